-- Views: their definitions with catalog names (and renamed objects) rewritten for dr, created in
-- dependency order (waves); a view whose dependency is not replicated, or that sits in a
-- reference cycle, fails alone.
local errors = require("errors")
local util = require("replicate.util")
local q = require("replicate.sqltext")
local tokenizer = require("replicate.tokenizer")
local order = require("dag")

local K = {
  collection = "tables", sql = "VIEW", securable = "table", depth = 3, tags = true, column_tags = true,
  privileges = { "ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "SELECT" },
  -- listed, normalised and granted with the tables (kinds.kind_of tells them apart)
  phases = { view = 70 },
  prune_rank = 1,
  renames = true,
  policies = { clone = "create it from its rewritten definition", skip = "not replicated (views on it fail)" },
}

function K.match(t) return t.table_type == "VIEW" end

-- Each selected view's dependencies (source full names): its definition's references and UC's
-- own view_dependencies when the inventory has them.
local function dependencies(p, views)
  local deps = {}
  for _, v in ipairs(views) do
    local okr, refs = pcall(tokenizer.references, v.obj.view_definition or "", v.obj.catalog)
    if not okr then p:fail(v.tgt, errors.text(refs), "view") else
      local ds = {}
      for _, r in ipairs(refs) do ds[#ds + 1] = r end
      for _, r in ipairs(v.obj.view_dependencies or {}) do ds[#ds + 1] = r:lower() end
      deps[v.full] = ds
    end
  end
  return deps
end

local function plan_one(p, t, full, tgt, rank, deps)
  local okr, body = pcall(p.rewrite, p, t.view_definition or "")
  if not okr then return p:fail(tgt, errors.text(body), "view") end
  local needs, blocked_by = {}, nil
  for _, d in ipairs(deps or {}) do
    local dt = p.target_of[d] or p.target_of[d:lower()]
    if dt then
      needs[#needs + 1] = dt
      if p.blocked[dt] then blocked_by = dt end
    elseif p.src.tables[d] or (p.src.functions or {})[d] then
      -- exists in prod but is not replicated (excluded, filtered or skipped)
      p.blocked[d] = p.blocked[d] or "excluded from replication"
      blocked_by = d
    end
  end
  if blocked_by then
    return p:fail(tgt, "depends on " .. blocked_by .. ", which is not replicated: " .. p.blocked[blocked_by], "view")
  end
  local d = p.dst.tables[tgt]
  local needs_replace = false
  for _, n in ipairs(needs) do if p.recreated[n] and p.dst.tables[n] == nil then needs_replace = true end end
  local same = d and d.table_type == "VIEW" and d.view_definition == body and q.comment(d.comment) == q.comment(t.comment)
  if same and not needs_replace then return end
  local sql = "CREATE OR REPLACE VIEW " .. q.name(tgt)
  if q.comment(t.comment) then sql = sql .. " COMMENT " .. q.literal(t.comment) end
  sql = sql .. " AS " .. body
  local parts = util.split_name(tgt)
  p:add{ phase = "view", op = d and "replace" or "create", kind = "view", object = tgt, source = full,
    reason = (not d and "missing in dr") or (d.view_definition ~= body and "definition differs") or "comment differs",
    rank = rank, needs = needs, steps = { q.step(sql, { catalog = parts[1], schema = parts[2] }) } }
  p.recreated[tgt] = true
end

function K.plan(p)
  local views, names = {}, {}
  p:each_selected(K, function(t, full, tgt)
    if not p.blocked[tgt] then views[#views + 1] = { obj = t, full = full, tgt = tgt }; names[#names + 1] = full end
  end)
  local deps = dependencies(p, views)
  local lower_to_full = {}
  for _, v in ipairs(names) do lower_to_full[v:lower()] = v end
  local deps_full = {}
  for v, ds in pairs(deps) do
    deps_full[v] = {}
    for _, d in ipairs(ds) do deps_full[v][#deps_full[v] + 1] = lower_to_full[d] or d end
  end
  local ordered, cycles, waiting = order.toposort(names, deps_full)
  for _, c in ipairs(cycles) do
    for _, v in ipairs(c.members) do
      p:fail(p.target_of[v], "views reference each other in a cycle: " .. table.concat(c.members, " -> "), "view")
    end
  end
  for _, v in ipairs(waiting) do p:fail(p.target_of[v], "depends on a view in a reference cycle", "view") end
  for rank, full in ipairs(ordered) do
    local tgt = p.target_of[full]
    if not p.blocked[tgt] then plan_one(p, p.src.tables[full], full, tgt, rank, deps_full[full]) end
  end
end

return K

-- Schemas of the replicated catalogs: created in dr (managed location mapped through `storage`),
-- comments and properties kept in step.
local util = require("replicate.util")
local q = require("replicate.sqltext")

local K = {
  collection = "schemas", sql = "SCHEMA", securable = "schema", depth = 2, tags = true,
  privileges = { "ALL_PRIVILEGES", "APPLY_TAG", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW", "CREATE_MODEL",
    "CREATE_TABLE", "CREATE_VOLUME", "EXECUTE", "EXTERNAL_USE_SCHEMA", "MANAGE", "MODIFY", "READ_VOLUME",
    "REFRESH", "SELECT", "USE_SCHEMA", "WRITE_VOLUME" },
  privilege_view = { view = "schema_privileges", cols = { "catalog_name", "schema_name" } },
  tag_views = { { view = "schema_tags", cols = { "catalog_name", "schema_name" } } },
  phases = { schema = 30 },
  prune_rank = 5, prune_suffix = " CASCADE",
  renames = false,   -- a schema keeps its name (catalogs are renamed by the `catalogs` map)
  policies = { clone = "create and keep in step", metadata_only = "the same as clone (a schema holds no data)",
    skip = "not replicated, nor anything in it" },
}

-- In scope when some include pattern can match objects inside it and no exclude pattern names
-- the schema itself ("c.s.t" includes schema c.s).
function K.selected(p, full)
  local inc = false
  for _, g in ipairs(p.cfg.include) do
    local parts = util.split_name(g)
    local prefix = table.concat(parts, ".", 1, math.min(#parts, 2))
    if util.glob_match(prefix, full) or (#parts == 1 and util.glob_match(parts[1], util.split_name(full)[1]))
      or util.glob_match(g, full) then inc = true; break end
  end
  if not inc then return false end
  for _, g in ipairs(p.cfg.exclude) do
    if util.glob_match(g, full) then return false end
  end
  return true
end

function K.match(s) return s.name ~= "information_schema" end

function K.normalise(s)
  local val = util.val
  local full = (s.catalog_name .. "." .. s.name):lower()
  return { catalog = s.catalog_name:lower(), name = s.name:lower(), full = full, comment = val(s.comment),
    owner = val(s.owner), properties = util.props(s.properties), storage_root = val(s.storage_root), tags = {} }
end

local function plan_one(p, full, s, tgt)
  local d = p.dst.schemas[tgt]
  if d then
    p:plan_comment(K, full, tgt, s, d)
    local have, diff = d.properties or {}, {}
    for k, v in pairs(s.properties or {}) do if have[k] ~= v then diff[k] = v end end
    if next(diff) then
      p:add{ phase = "metadata", op = "update", kind = "schema", object = tgt, source = full,
        reason = "properties differ", steps = { q.step("ALTER SCHEMA " .. q.name(tgt) .. " SET DBPROPERTIES " .. q.kv_list(diff)) } }
    end
    return
  end
  local sql = "CREATE SCHEMA IF NOT EXISTS " .. q.name(tgt)
  local loc, why = p:location(s.storage_root)
  if why then return p:fail(tgt, why, "schema") end
  if loc then sql = sql .. " MANAGED LOCATION " .. q.literal(loc) end
  if q.comment(s.comment) then sql = sql .. " COMMENT " .. q.literal(s.comment) end
  local steps = { q.step(sql) }
  if s.properties and next(s.properties) then
    steps[2] = q.step("ALTER SCHEMA " .. q.name(tgt) .. " SET DBPROPERTIES " .. q.kv_list(s.properties))
  end
  p:recreate{ phase = "schema", op = "create", kind = "schema", object = tgt, source = full, reason = "missing in dr", steps = steps }
end

function K.plan(p)
  p:each_selected(K, function(s, full, tgt) plan_one(p, full, s, tgt) end)
end

return K

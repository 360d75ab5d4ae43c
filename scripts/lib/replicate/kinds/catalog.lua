-- Catalogs: the ones named in the config's `catalogs` map, created in dr with their managed
-- location mapped through `storage`; comments kept in step.
local util = require("replicate.util")
local q = require("replicate.sqltext")

local K = {
  collection = "catalogs", sql = "CATALOG", securable = "catalog", depth = 1, tags = true,
  privileges = { "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_FUNCTION", "CREATE_MATERIALIZED_VIEW",
    "CREATE_MODEL", "CREATE_SCHEMA", "CREATE_TABLE", "CREATE_VOLUME", "EXECUTE", "EXTERNAL_USE_SCHEMA",
    "MANAGE", "MODIFY", "READ_VOLUME", "REFRESH", "SELECT", "USE_CATALOG", "USE_SCHEMA", "WRITE_VOLUME" },
  privilege_view = { view = "catalog_privileges", cols = { "catalog_name" } },
  tag_views = { { view = "catalog_tags", cols = { "catalog_name" } } },
  phases = { catalog = 20 },
  renames = false,   -- the `catalogs` map names the target
  policies = { clone = "create and keep in step", metadata_only = "the same as clone (a catalog holds no data)",
    skip = "not replicated, nor anything in it" },
}

function K.selected() return true end   -- chosen by the `catalogs` map, not by include/exclude

function K.normalise(c)
  local val = util.val
  local name = c.name:lower()
  return { name = name, full = name, comment = val(c.comment), owner = val(c.owner), properties = util.props(c.properties),
    storage_root = val(c.storage_root), catalog_type = val(c.catalog_type), provider_name = val(c.provider_name),
    share_name = val(c.share_name), tags = {} }
end

-- The configured catalogs (prod has them all: config.check_catalogs refuses the others before
-- planning) that are managed; the filter and policy hooks see them like every other object.
function K.select(p, add)
  for _, src_cat in ipairs(util.sorted_keys(p.cfg.catalogs)) do
    local tgt = p.cfg.catalogs[src_cat]
    local sc = p.src.catalogs[src_cat]
    if sc.catalog_type and sc.catalog_type ~= "MANAGED_CATALOG" then
      p:fail(tgt, "source catalog " .. src_cat .. " is " .. sc.catalog_type .. " (only managed catalogs are replicated)", "catalog")
    else
      local ok, policy = p:scope(sc, K, src_cat)
      if ok then add(sc, src_cat, p:target_name(sc, K, nil, tgt), policy) end
    end
  end
end

local function plan_one(p, sc, src_cat, tgt)
  local dc = p.dst.catalogs[tgt]
  if dc then return p:plan_comment(K, src_cat, tgt, sc, dc) end
  local sql = "CREATE CATALOG IF NOT EXISTS " .. q.ident(tgt)
  local loc, why = p:location(sc.storage_root)
  if why then return p:fail(tgt, why, "catalog") end
  if loc then sql = sql .. " MANAGED LOCATION " .. q.literal(loc) end
  if q.comment(sc.comment) then sql = sql .. " COMMENT " .. q.literal(sc.comment) end
  p:recreate{ phase = "catalog", op = "create", kind = "catalog", object = tgt, source = src_cat,
    reason = "missing in dr", steps = { q.step(sql) } }
end

function K.plan(p)
  p:each_selected(K, function(sc, src_cat, tgt) plan_one(p, sc, src_cat, tgt) end)
end

return K

-- Volumes: external volumes registered at their mapped location (their files come by storage
-- geo-replication); managed volumes created empty (their files are not copied, and the plan says
-- so); comments kept in step.
local util = require("replicate.util")
local q = require("replicate.sqltext")

local K = {
  collection = "volumes", sql = "VOLUME", securable = "volume", depth = 3, tags = true,
  privileges = { "ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "READ_VOLUME", "WRITE_VOLUME" },
  list = { path = "/volumes", key = "volumes" },
  privilege_view = { view = "volume_privileges", cols = { "volume_catalog", "volume_schema", "volume_name" } },
  tag_views = { { view = "volume_tags", cols = { "catalog_name", "schema_name", "volume_name" } } },
  phases = { volume = 80 },
  prune_rank = 4,
  renames = true,
  policies = { clone = "create it (external: at the mapped location; managed: empty, files are not copied)",
    metadata_only = "create it empty: a managed volume at the target, whatever the source's type", skip = "not replicated" },
}

function K.normalise(o)
  local val = util.val
  return { catalog = o.catalog_name:lower(), schema = o.schema_name:lower(), name = o.name:lower(),
    full = (o.catalog_name .. "." .. o.schema_name .. "." .. o.name):lower(), volume_type = val(o.volume_type),
    location = val(o.storage_location), comment = val(o.comment), owner = val(o.owner), tags = {} }
end

local function create(p, v, full, tgt, sql, reason)
  if q.comment(v.comment) then sql = sql .. " COMMENT " .. q.literal(v.comment) end
  p:add{ phase = "volume", op = "create", kind = "volume", object = tgt, source = full, reason = reason, steps = { q.step(sql) } }
  p.recreated[tgt] = true
end

local function plan_one(p, v, full, tgt, policy)
  local d = (p.dst.volumes or {})[tgt]
  if v.volume_type == "EXTERNAL" and policy ~= "metadata_only" then
    local loc, why = p:location(v.location, true)
    if not loc then return p:fail(tgt, why, "volume") end
    if not d then
      return create(p, v, full, tgt, "CREATE EXTERNAL VOLUME IF NOT EXISTS " .. q.name(tgt) .. " LOCATION " .. q.literal(loc),
        "missing in dr (files come by storage geo-replication)")
    elseif d.location ~= loc then
      return p:fail(tgt, "dr volume is at " .. tostring(d.location) .. ", not the mapped " .. loc
        .. " (drop it in dr to let replication recreate it)", "volume")
    end
  elseif not d then
    create(p, v, full, tgt, "CREATE VOLUME IF NOT EXISTS " .. q.name(tgt), policy == "metadata_only"
      and "missing in dr (metadata only: an empty managed volume)" or "missing in dr (managed volume: files are not copied)")
    if policy ~= "metadata_only" then p:warn(tgt, "managed volume files are not copied") end
    return
  end
  p:plan_comment(K, full, tgt, v, d)
end

function K.plan(p)
  p:each_selected(K, function(v, full, tgt, policy) plan_one(p, v, full, tgt, policy) end)
end

return K

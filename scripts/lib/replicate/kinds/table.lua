-- Tables (everything in the tables listing that is not a view). Managed and external Delta
-- tables go through the share and DEEP CLONE (only when the source version moved); external
-- non-Delta tables are registered at their mapped location; protected tables (row filter or
-- column mask) are skipped or created empty, per `protected_tables`; comments are re-applied
-- after a clone (DEEP CLONE does not copy them) and row filters/masks after a metadata-only copy.
local util = require("replicate.util")
local urlencode = require("web").urlencode
local q = require("replicate.sqltext")
local shares = require("replicate.shares")

local K = {
  collection = "tables", sql = "TABLE", securable = "table", depth = 3, tags = true, column_tags = true,
  privileges = { "ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "MODIFY", "SELECT" },
  list = { path = "/tables", key = "tables" },
  privilege_view = { view = "table_privileges", cols = { "table_catalog", "table_schema", "table_name" } },
  tag_views = { { view = "table_tags", cols = { "catalog_name", "schema_name", "table_name" } },
    { view = "column_tags", cols = { "catalog_name", "schema_name", "table_name", "column_name" }, column = true } },
  phases = { share = 40, share_grant = 41, share_catalog = 42, clone = 43, external_clone = 44, register = 45, policy = 95 },
  prune_rank = 3,
  renames = true,
  policies = { clone = "copy the data (DEEP CLONE, or register an external non-Delta table)",
    metadata_only = "create it empty with the same columns", skip = "not replicated" },
}

function K.match(t) return t.table_type ~= "VIEW" end

-- Memory at scale (an inventory holds every table of both sides): a column with neither comment
-- nor mask is one record shared by every table that has it (inventory objects are read, never
-- written: hooks get copies); empty tags, column tags and view dependencies are K.NONE, one
-- read-only empty table (inventory.lua gives an object its own tags table when it reads one).
K.NONE = setmetatable({}, { __newindex = function() error("replicate: K.NONE is read-only", 2) end,
  __metatable = "replicate.kinds.table.NONE" })
local plain_columns = setmetatable({}, { __mode = "v" })
local plain_lists = setmetatable({}, { __mode = "v" })   -- keys of its columns -> shared list

-- A column -> its record, and the record's key when it is a shared plain one.
local function norm_column(c)
  local val = util.val
  local mask, comment = val(c.mask), val(c.comment)
  local name, text, tname = c.name, c.type_text, c.type_name
  if comment == nil and not (mask and mask.function_name) and type(name) == "string" and type(text) == "string"
    and type(tname) == "string" then
    local key = string.pack("s4s4s4", name, text, tname)   -- self-delimiting: lists concatenate them
    local rec = plain_columns[key]
    if not rec then
      rec = { name = name, type_text = text, type_name = tname }
      plain_columns[key] = rec
    end
    return rec, key
  end
  local rec = { name = name, type_text = text, type_name = tname }
  rec.comment = comment
  if mask and mask.function_name then
    rec.mask = { function_name = mask.function_name, using_column_names = val(mask.using_column_names) or {} }
  end
  return rec
end

-- A column list made only of plain columns is one list for every table with those columns in that
-- order (the tables of a tenant-per-schema estate, of partitioned copies): the key names the shared
-- records it holds.
local function norm_columns(cols)
  local out, keys = {}, {}
  for _, c in ipairs(cols or {}) do
    local rec, k = norm_column(c)
    out[#out + 1] = rec
    keys[#keys + 1] = k   -- only plain columns add a key
  end
  if #out == 0 or #keys < #out then return out end
  local key = table.concat(keys)
  local list = plain_lists[key]
  if not list then plain_lists[key] = out; return out end
  return list
end

-- One entry of the tables listing (tables and views alike) -> the inventory's table. Fields that
-- are nil are left out of the constructor (a constructor sizes the table for every field it names).
-- lean (dr's side): only what the plan compares a replica by. A replica's properties and table id are
-- never read, nor a managed replica's location (UC places it; only an external source's mapped
-- location is compared): leaving them out is about a third of a replica's record.
function K.normalise(t, lean)
  local val = util.val
  local deps = K.NONE
  local vd = val(t.view_dependencies)
  if type(vd) == "table" then
    for _, d in ipairs(val(vd.dependencies) or {}) do
      if type(d) == "table" and type(d.table) == "table" and d.table.table_full_name then
        if deps == K.NONE then deps = {} end
        deps[#deps + 1] = d.table.table_full_name:lower()
      end
    end
  end
  local o = {
    catalog = t.catalog_name:lower(), schema = t.schema_name:lower(), name = t.name:lower(),
    full = (t.catalog_name .. "." .. t.schema_name .. "." .. t.name):lower(),
    table_type = t.table_type, columns = norm_columns(t.columns),
    properties = lean and K.NONE or util.props(t.properties),
    view_dependencies = deps, tags = K.NONE, column_tags = K.NONE,
  }
  o.format, o.comment = val(t.data_source_format), val(t.comment)
  if not (lean and t.table_type == "MANAGED") then o.location = val(t.storage_location) end
  o.owner, o.view_definition = val(t.owner), val(t.view_definition)
  local rf = val(t.row_filter)
  if rf and rf.function_name then
    o.row_filter = { function_name = rf.function_name, input_column_names = val(rf.input_column_names) or {} }
  end
  if not lean then o.table_id, o.updated_at = val(t.table_id), val(t.updated_at) end
  return o
end

local function columns_ddl(cols)
  local parts = {}
  for _, c in ipairs(cols or {}) do
    local s = q.ident(c.name) .. " " .. (c.type_text or c.type_name or "STRING")
    if q.comment(c.comment) then s = s .. " COMMENT " .. q.literal(c.comment) end
    parts[#parts + 1] = s
  end
  return "(" .. table.concat(parts, ", ") .. ")"
end

local function columns_equal(a, b)
  if #(a or {}) ~= #(b or {}) then return false end
  for i, c in ipairs(a) do
    local d = b[i]
    if c.name:lower() ~= d.name:lower() then return false end
    if (c.type_text or ""):lower() ~= (d.type_text or ""):lower() then return false end
  end
  return true
end

local function has_policy(t)
  if t.row_filter and t.row_filter.function_name then return true end
  for _, c in ipairs(t.columns or {}) do if c.mask and c.mask.function_name then return true end end
  return false
end

local function plan_metadata_only(p, t, tgt)
  local d = p.dst.tables[tgt]
  if d and columns_equal(d.columns, t.columns) then return end
  local sql = (d and "CREATE OR REPLACE TABLE " or "CREATE TABLE IF NOT EXISTS ") .. q.name(tgt) .. " "
    .. columns_ddl(t.columns) .. " USING DELTA"
  p:add{ phase = "register", op = d and "replace" or "create", kind = "table", object = tgt, source = t.full,
    reason = (d and "columns differ" or "missing in dr") .. " (metadata only: no data copied)", steps = { q.step(sql) } }
  p.recreated[tgt] = true
end

-- Why replica d is not at the mapped location loc (nil when it is). dr's inventory keeps no location
-- for a managed replica (Unity Catalog places it), and a managed table is never at a mapped one.
local function location_differs(d, loc)
  if d.location == loc then return nil end
  if d.table_type == "MANAGED" and d.location == nil then return "dr has a managed table, not one at the mapped " .. loc end
  return "location " .. tostring(d.location) .. " is not the mapped " .. loc
end

-- External non-Delta tables: their files arrive by storage geo-replication; register the table
-- at the mapped location. Dropping an external table never deletes its files.
local function plan_register(p, t, tgt)
  local loc, why = p:location(t.location, true)
  if not loc then return p:fail(tgt, why, "table") end
  local d = p.dst.tables[tgt]
  local create = "CREATE TABLE IF NOT EXISTS " .. q.name(tgt) .. " " .. columns_ddl(t.columns) .. " USING "
    .. t.format:upper() .. " LOCATION " .. q.literal(loc)
  if q.comment(t.comment) then create = create .. " COMMENT " .. q.literal(t.comment) end
  if not d then
    p:add{ phase = "register", op = "create", kind = "table", object = tgt, source = t.full,
      reason = "missing in dr (" .. t.format:upper() .. " at the mapped location)", steps = { q.step(create) } }
    p.recreated[tgt] = true
  elseif d.location ~= loc or not columns_equal(d.columns, t.columns) then
    p:add{ phase = "register", op = "replace", kind = "table", object = tgt, source = t.full,
      reason = location_differs(d, loc) or "columns differ",
      steps = { q.step("DROP TABLE IF EXISTS " .. q.name(tgt)), q.step(create) } }
    p.recreated[tgt] = true
  end
end

local function share_catalog_for(p, share)
  local n = share:match("_(%d+)$") or share
  return p.cfg.sharing.catalog_prefix .. "_" .. n
end

-- Decide whether a Delta table must be cloned: the state kept in dr says which source version
-- the replica reflects; a different version, a recreated source, a changed location or a
-- missing replica all mean clone; equal means nothing to do.
function K.clone_reason(p, t, tgt)
  local d = p.dst.tables[tgt]
  local v = (p.src.versions or {})[t.full]
  local st = (p.dst.state or {})[tgt]
  if not d then return "missing in dr" end
  if d.table_type == "VIEW" then return "dr has a view by that name" end
  if t.mapped_location then
    local why = location_differs(d, t.mapped_location)
    if why then return why end
  end
  if p.cfg.clone_strategy == "always" then return "clone_strategy = always" end
  if not v or v.version == nil then return "source version unknown: cloning to be safe" end
  if not st then
    local h = (p.dst.clone_history or {})[tgt]
    if h and h.source_version == v.version then return nil, "record" end
    return "no replication state for it"
  end
  if st.source_table_id and t.table_id and st.source_table_id ~= t.table_id then
    return "source table was recreated (table id changed)"
  end
  if st.source_version ~= v.version then
    return string.format("source version %s %s last cloned %s", tostring(v.version),
      (tonumber(v.version) or 0) > (tonumber(st.source_version) or 0) and ">" or "<>", tostring(st.source_version))
  end
  return nil
end

local function plan_clone(p, t, tgt, clone_src, share)
  local reason, special = K.clone_reason(p, t, tgt)
  local v = (p.src.versions or {})[t.full] or {}
  local st = (p.dst.state or {})[tgt]
  -- one row per table for `status`: eight fields, so an in-sync row keeps the smallest hash part that
  -- holds them (a constructor sizes it by the fields it names, nil or not); reason and missing only
  -- when there are
  local row = { object = tgt, source = t.full, source_version = v.version, source_commit_ts = v.ts,
    cloned_version = st and st.source_version, cloned_commit_ts = st and st.source_commit_ts,
    cloned_at = st and st.cloned_at, in_sync = (reason == nil and special == nil) }
  if not row.in_sync then row.reason = reason or special end
  if p.dst.tables[tgt] == nil then row.missing = true end
  p.table_status[#p.table_status + 1] = row
  local record = { object = tgt, source = t.full, source_table_id = t.table_id, source_version = v.version,
    source_commit_ts = v.ts, share = share }
  if special == "record" then
    p:add{ phase = "clone", op = "record", kind = "table", object = tgt, source = t.full,
      reason = "replica already reflects source version " .. tostring(v.version) .. ": record it", record = record, steps = {} }
    return
  end
  if not reason then return end
  local sql = "CREATE OR REPLACE TABLE " .. q.name(tgt) .. " DEEP CLONE " .. q.name(clone_src)
  local phase = "clone"
  if t.mapped_location then
    sql = sql .. " LOCATION " .. q.literal(t.mapped_location)
    phase = "external_clone"
  end
  p:add{ phase = phase, op = "clone", kind = "table", object = tgt, source = t.full, reason = reason,
    needs = { share_catalog_for(p, share) }, record = record, steps = { q.step(sql, { clone = true }) } }
  p.recreated[tgt] = true
  p.cloned = (p.cloned or 0) + 1
end

-- Every share the clones use: created and filled in prod, granted to the recipient, mounted in dr.
local function plan_share_use(p, share, created)
  local sh = p.cfg.sharing
  local info = (p.src.shares or {})[share] or {}
  local granted = false
  for _, r in ipairs(info.recipients or {}) do if r == sh.recipient then granted = true end end
  if not granted then
    p:add{ phase = "share_grant", op = "grant", kind = "share", object = share, side = "src",
      needs = created[share] and { share } or nil, reason = "recipient " .. sh.recipient .. " cannot read it yet",
      steps = { { side = "src", rest = { method = "PATCH",
        path = "/api/2.1/unity-catalog/shares/" .. urlencode(share) .. "/permissions",
        body = { changes = { { principal = sh.recipient, add = { "SELECT" } } } } } } } }
  end
  local cat = share_catalog_for(p, share)
  if p.dst.catalogs[cat] then return end
  if not p.dst.provider then
    p:fail(cat, "no Delta Sharing provider for prod's metastore in dr (create the recipient in prod first: "
      .. "the deployment does; or set sharing.provider)", "catalog")
  else
    p:add{ phase = "share_catalog", op = "create", kind = "catalog", object = cat,
      needs = created[share] and { share } or nil, reason = "mount share " .. share .. " from provider " .. p.dst.provider,
      steps = { { side = "dst", rest = { method = "POST", path = "/api/2.1/unity-catalog/catalogs",
        body = { name = cat, provider_name = p.dst.provider, share_name = share,
          comment = "drhost: prod tables shared for cloning" } } } } }
  end
end

local function plan_shares(p, delta_wanted, pending)
  if #delta_wanted == 0 then return end
  local sh = p.cfg.sharing
  local ours = {}
  for name, info in pairs(p.src.shares or {}) do
    if name:sub(1, #sh.share_prefix + 1) == sh.share_prefix .. "_" then ours[name] = info.tables or {} end
  end
  local assign = shares.assign(ours, delta_wanted, { prefix = sh.share_prefix, max_tables = sh.max_tables,
    max_schemas = sh.max_schemas })
  local created = util.set(assign.create)
  for _, name in ipairs(assign.create) do
    p:add{ phase = "share", op = "create", kind = "share", object = name, side = "src",
      reason = "a share is needed for " .. #(assign.adds[name] or {}) .. " table(s)",
      steps = { { side = "src", rest = { method = "POST", path = "/api/2.1/unity-catalog/shares",
        body = { name = name, comment = "drhost: tables replicated to dr" } } } } }
  end
  for _, name in ipairs(util.sorted_keys(assign.adds)) do
    for i, batch in ipairs(shares.batches(assign.adds[name], sh.batch)) do
      local updates = {}
      for _, full in ipairs(batch) do
        updates[#updates + 1] = { action = "ADD", data_object = { name = full, data_object_type = "TABLE" } }
      end
      p:add{ phase = "share", op = "update", kind = "share", object = name .. "#" .. i, side = "src",
        needs = created[name] and { name } or nil, reason = "add " .. #batch .. " table(s) the share lacks", tables = batch,
        steps = { { side = "src", rest = { method = "PATCH", path = "/api/2.1/unity-catalog/shares/" .. urlencode(name),
          body = { updates = updates } } } } }
    end
  end
  local used = {}
  for _, share in pairs(assign.location) do used[share] = true end
  for _, share in ipairs(util.sorted_keys(used)) do plan_share_use(p, share, created) end
  for _, full in ipairs(delta_wanted) do
    local w = pending[full]
    local share = assign.location[full]
    local cat = share_catalog_for(p, share)
    if p.blocked[cat] or p.blocked[share] then
      p:fail(w.tgt, "its share cannot be used: " .. (p.blocked[cat] or p.blocked[share]), "table")
    else
      local parts = util.split_name(full)
      plan_clone(p, w.t, w.tgt, cat .. "." .. parts[2] .. "." .. parts[3], share)
    end
  end
end

-- Comments (not copied by DEEP CLONE) and column comments.
local function plan_metadata(p, t, full, tgt)
  local d = p.dst.tables[tgt]
  local steps, reasons = {}, {}
  local want = q.comment(t.comment)
  local fresh = p.recreated[tgt]
  if (fresh and want) or (d and not fresh and q.comment(d.comment) ~= want) then
    steps[#steps + 1] = q.step("COMMENT ON TABLE " .. q.name(tgt) .. " IS " .. (want and q.literal(want) or "NULL"))
    reasons[#reasons + 1] = fresh and "comment (not copied by clone)" or "comment differs"
  end
  if d and not fresh then
    local dcols = {}
    for _, c in ipairs(d.columns or {}) do dcols[c.name:lower()] = c end
    for _, c in ipairs(t.columns or {}) do
      local dc = dcols[c.name:lower()]
      if dc and q.comment(dc.comment) ~= q.comment(c.comment) then
        steps[#steps + 1] = q.step("ALTER TABLE " .. q.name(tgt) .. " ALTER COLUMN " .. q.ident(c.name)
          .. " COMMENT " .. q.literal(c.comment or ""))
        reasons[#reasons + 1] = "column " .. c.name .. " comment differs"
      end
    end
  end
  if #steps > 0 then
    p:add{ phase = "metadata", op = "update", kind = "table", object = tgt, source = full,
      reason = table.concat(reasons, ", "), steps = steps }
  end
end

local function column_list(names)
  local cols = {}
  for _, c in ipairs(names or {}) do cols[#cols + 1] = q.ident(c) end
  return table.concat(cols, ", ")
end

-- Row filters and column masks, re-applied when a protected table is replicated as metadata only
-- (its filter/mask functions are created in the function phase).
local function plan_row_policies(p, t, full, tgt)
  local d = p.dst.tables[tgt]
  local fresh = p.recreated[tgt] or not d
  local steps = {}
  local rf = t.row_filter
  if rf and rf.function_name then
    local fn = p:rewrite_function_name(rf.function_name)
    if fresh or not (d.row_filter and d.row_filter.function_name == fn) then
      steps[#steps + 1] = q.step("ALTER TABLE " .. q.name(tgt) .. " SET ROW FILTER " .. q.name(fn)
        .. " ON (" .. column_list(rf.input_column_names) .. ")")
    end
  end
  local dcols = {}
  for _, c in ipairs((d and d.columns) or {}) do dcols[c.name:lower()] = c end
  for _, c in ipairs(t.columns or {}) do
    if c.mask and c.mask.function_name then
      local fn = p:rewrite_function_name(c.mask.function_name)
      local dc = dcols[c.name:lower()]
      if fresh or not (dc and dc.mask and dc.mask.function_name == fn) then
        local sql = "ALTER TABLE " .. q.name(tgt) .. " ALTER COLUMN " .. q.ident(c.name) .. " SET MASK " .. q.name(fn)
        if c.mask.using_column_names and #c.mask.using_column_names > 0 then
          sql = sql .. " USING COLUMNS (" .. column_list(c.mask.using_column_names) .. ")"
        end
        steps[#steps + 1] = q.step(sql)
      end
    end
  end
  if #steps > 0 then
    p:add{ phase = "policy", op = "update", kind = "table", object = tgt, source = full,
      reason = "re-apply row filter / column masks", steps = steps }
  end
end

-- How one selected table is replicated; Delta tables are collected for the share.
local function plan_one(p, t, full, tgt, policy, delta_wanted, pending)
  if t.table_type == "MATERIALIZED_VIEW" or t.table_type == "STREAMING_TABLE" then
    p:skip(tgt, t.table_type .. " cannot be cloned: rebuild it in dr by running its pipeline", "table")
    p.blocked[tgt] = "not replicated"
  elseif has_policy(t) and p.cfg.protected_tables == "skip" then
    p:skip(tgt, "protected by a row filter or column mask: a copy would read through the policy "
      .. "(set protected_tables = \"metadata_only\" to create it empty, or exempt the share owner)", "table")
    p.blocked[tgt] = "protected table skipped"
  elseif policy == "metadata_only" or (has_policy(t) and p.cfg.protected_tables == "metadata_only") then
    plan_metadata_only(p, t, tgt)
  elseif (t.format or "DELTA"):upper() == "DELTA" then
    if t.table_type == "EXTERNAL" then
      local loc, why = p:location(t.location, true)
      if not loc then return p:fail(tgt, why, "table") end
      t = util.copy(t); t.mapped_location = loc
    end
    delta_wanted[#delta_wanted + 1] = full
    pending[full] = { t = t, tgt = tgt }
  else
    plan_register(p, t, tgt)
  end
end

function K.plan(p)
  local delta_wanted, pending = {}, {}   -- source full names that go through the share
  p:each_selected(K, function(t, full, tgt, policy) plan_one(p, t, full, tgt, policy, delta_wanted, pending) end)
  plan_shares(p, delta_wanted, pending)
  p:each_selected(K, function(t, full, tgt)
    if not p.blocked[tgt] then plan_metadata(p, t, full, tgt) end
  end)
  if p.cfg.protected_tables == "metadata_only" then
    p:each_selected(K, function(t, full, tgt)
      if not p.blocked[tgt] and has_policy(t) then plan_row_policies(p, t, full, tgt) end
    end)
  end
end

return K

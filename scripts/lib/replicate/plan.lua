-- luacheck: max line length 160
-- The replication plan: a pure function from the two inventories (what prod has, what dr has,
-- the replication state kept in dr) and the configuration to an ordered list of actions, each
-- with its reason and the exact statements or API calls it will run. No I/O here, so every rule
-- is covered by unit specs with fixture inventories; scripts/lib/replicate/apply.lua executes it.
local util = require("replicate.util")
local grants = require("replicate.grants")
local storage = require("replicate.storage")
local shares = require("replicate.shares")
local order = require("dag")
local tokenizer = require("replicate.tokenizer")
local q = require("replicate.sqltext")
local config = require("replicate.config")

local M = {}

-- Execution order (issue 5 section 3). Actions run phase by phase; inside a phase they run
-- concurrently, except views (dependency waves) and prune (one at a time, views first).
M.PHASES = { "state", "catalog", "schema", "share", "share_grant", "share_catalog", "clone",
  "external_clone", "register", "metadata", "function", "view", "volume", "tags", "grants",
  "owner", "policy", "prune" }
M.PHASE_INDEX = {}
for i, p in ipairs(M.PHASES) do M.PHASE_INDEX[p] = i end

local SQL_KIND = { catalog = "CATALOG", schema = "SCHEMA", table = "TABLE", view = "VIEW",
  volume = "VOLUME", ["function"] = "FUNCTION" }

local urlenc = require("web").urlencode

local function same_map(a, b)
  a, b = a or {}, b or {}
  for k, v in pairs(a) do if b[k] ~= v then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function norm_comment(c)
  if c == nil or c == "" or (type(c) ~= "string") then return nil end
  return c
end

-- Planner state shared by the helpers below.
local Planner = {}
Planner.__index = Planner

function M.new_planner(cfg, src, dst, opts)
  local self = setmetatable({ cfg = cfg, src = src, dst = dst, opts = opts or {} }, Planner)
  self.actions, self.failed, self.skipped, self.warnings, self.notes = {}, {}, {}, {}, {}
  self.table_status = {}     -- one row per Delta table considered for cloning (status command)
  self.blocked = {}          -- target name -> reason (failed at plan time: nothing else planned)
  self.recreated = {}        -- target name -> true when created/replaced in this plan
  self.object_map = {}       -- source full -> target full (renames)
  self.target_of = {}        -- source full -> target full, for every replicated object
  self.selected_targets = {} -- target full -> source full
  return self
end

function Planner:add(action)
  assert(M.PHASE_INDEX[action.phase], "unknown phase " .. tostring(action.phase))
  self.actions[#self.actions + 1] = action
  return action
end

function Planner:fail(object, reason, kind)
  self.failed[#self.failed + 1] = { object = object, kind = kind, reason = reason }
  self.blocked[object] = reason
end

function Planner:skip(object, reason, kind)
  self.skipped[#self.skipped + 1] = { object = object, kind = kind, reason = reason }
end

function Planner:warn(object, reason)
  self.warnings[#self.warnings + 1] = { object = object, reason = reason }
end

-- Run a user hook safely; a failing hook fails that object only.
function Planner:hook(name, obj)
  local h = self.cfg.hooks and self.cfg.hooks[name]
  if not h then return true, nil end
  local ok, res = pcall(h, util.copy(obj))
  if not ok then return false, "hook " .. name .. " failed: " .. util.errtext(res) end
  return true, res
end

-- Map a source full name to its target full name (catalog mapping + rename hook).
function Planner:target_name(obj)
  local parts = util.split_name(obj.full)
  parts[1] = self.cfg.catalogs[parts[1]:lower()] or parts[1]
  if #parts >= 3 then
    local ok, new = self:hook("rename", obj)
    if not ok then return nil, new end
    if new ~= nil then
      if type(new) ~= "string" or not new:match("^[%w_%-]+$") then
        return nil, "hook rename returned an invalid name: " .. tostring(new)
      end
      parts[3] = new
    end
  end
  return table.concat(parts, ".")
end

-- Is a source object in scope: selected by include/exclude, passed by the filter hook; and its
-- policy ("clone" by default, or "metadata_only"/"skip").
function Planner:scope(obj, kind)
  local o = util.copy(obj); o.kind = kind
  local selected
  if kind == "schema" then selected = self:schema_selected(obj.full)   -- "c.s.t" includes schema c.s
  else selected = config.selected(self.cfg, obj.full) end
  if not selected then return false end
  local ok, keep = self:hook("filter", o)
  if not ok then self:fail(obj.full, keep, kind); return false end
  if keep == false then return false end
  local okp, policy = self:hook("policy", o)
  if not okp then self:fail(obj.full, policy, kind); return false end
  policy = policy or "clone"
  if policy ~= "clone" and policy ~= "metadata_only" and policy ~= "skip" then
    self:fail(obj.full, "hook policy returned '" .. tostring(policy) .. "' (expected clone, metadata_only or skip)", kind)
    return false
  end
  if policy == "skip" then self:skip(obj.full, "policy hook: skip", kind); return false end
  return true, policy
end

local function sql_step(sql, extra)
  local s = { side = "dst", sql = sql }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

-- ---------------------------------------------------------------- catalogs and schemas
function Planner:plan_catalogs()
  for _, src_cat in ipairs(util.sorted_keys(self.cfg.catalogs)) do
    local tgt = self.cfg.catalogs[src_cat]
    local sc = self.src.catalogs[src_cat]
    if not sc then
      self:fail(tgt, "source catalog " .. src_cat .. " not found in prod (or ISOLATED and not bound to the replication workspace)", "catalog")
    elseif sc.catalog_type and sc.catalog_type ~= "MANAGED_CATALOG" then
      self:fail(tgt, "source catalog " .. src_cat .. " is " .. sc.catalog_type .. " (only managed catalogs are replicated)", "catalog")
    else
      self.target_of[src_cat] = tgt
      local dc = self.dst.catalogs[tgt]
      if not dc then
        local sql = "CREATE CATALOG IF NOT EXISTS " .. q.ident(tgt)
        if sc.storage_root and sc.storage_root ~= "" then
          local loc, why = storage.map(sc.storage_root, self.cfg.storage)
          if not loc then self:fail(tgt, why, "catalog") goto continue end
          sql = sql .. " MANAGED LOCATION " .. q.literal(loc)
        end
        if norm_comment(sc.comment) then sql = sql .. " COMMENT " .. q.literal(sc.comment) end
        self:add{ phase = "catalog", op = "create", kind = "catalog", object = tgt, source = src_cat,
          reason = "missing in dr", steps = { sql_step(sql) } }
        self.recreated[tgt] = true
      elseif norm_comment(dc.comment) ~= norm_comment(sc.comment) then
        self:add{ phase = "metadata", op = "update", kind = "catalog", object = tgt, source = src_cat,
          reason = "comment differs", steps = { sql_step("COMMENT ON CATALOG " .. q.ident(tgt) .. " IS "
            .. (norm_comment(sc.comment) and q.literal(sc.comment) or "NULL")) } }
      end
    end
    ::continue::
  end
end

function Planner:plan_schemas()
  for _, full in ipairs(util.sorted_keys(self.src.schemas)) do
    local s = self.src.schemas[full]
    local tgt_cat = self.target_of[s.catalog]
    if tgt_cat and s.name ~= "information_schema" and self:schema_selected(full) then
      local ok, policy = self:scope(s, "schema")
      if ok then
        local tgt = tgt_cat .. "." .. s.name
        self.target_of[full] = tgt
        self.selected_targets[tgt] = full
        local d = self.dst.schemas[tgt]
        if not d then
          local sql = "CREATE SCHEMA IF NOT EXISTS " .. q.name(tgt)
          if s.storage_root and s.storage_root ~= "" then
            local loc, why = storage.map(s.storage_root, self.cfg.storage)
            if not loc then self:fail(tgt, why, "schema") goto continue end
            sql = sql .. " MANAGED LOCATION " .. q.literal(loc)
          end
          if norm_comment(s.comment) then sql = sql .. " COMMENT " .. q.literal(s.comment) end
          local steps = { sql_step(sql) }
          if s.properties and next(s.properties) then
            steps[2] = sql_step("ALTER SCHEMA " .. q.name(tgt) .. " SET DBPROPERTIES " .. q.kv_list(s.properties))
          end
          self:add{ phase = "schema", op = "create", kind = "schema", object = tgt, source = full,
            reason = "missing in dr", steps = steps }
          self.recreated[tgt] = true
        else
          if norm_comment(d.comment) ~= norm_comment(s.comment) then
            self:add{ phase = "metadata", op = "update", kind = "schema", object = tgt, source = full,
              reason = "comment differs", steps = { sql_step("COMMENT ON SCHEMA " .. q.name(tgt) .. " IS "
                .. (norm_comment(s.comment) and q.literal(s.comment) or "NULL")) } }
          end
          local want = s.properties or {}
          local have = d.properties or {}
          local diff = {}
          for k, v in pairs(want) do if have[k] ~= v then diff[k] = v end end
          if next(diff) then
            self:add{ phase = "metadata", op = "update", kind = "schema", object = tgt, source = full,
              reason = "properties differ", steps = { sql_step("ALTER SCHEMA " .. q.name(tgt) .. " SET DBPROPERTIES " .. q.kv_list(diff)) } }
          end
        end
        local _ = policy
      end
    end
    ::continue::
  end
end

-- A schema is in scope when some include pattern can match objects inside it and no exclude
-- pattern names the schema itself.
function Planner:schema_selected(full)
  local inc = false
  for _, g in ipairs(self.cfg.include) do
    local parts = util.split_name(g)
    local prefix = table.concat(parts, ".", 1, math.min(#parts, 2))
    if util.glob_match(prefix, full) or (#parts == 1 and util.glob_match(parts[1], util.split_name(full)[1]))
      or util.glob_match(g, full) then inc = true; break end
  end
  if not inc then return false end
  for _, g in ipairs(self.cfg.exclude) do
    if util.glob_match(g, full) then return false end
  end
  return true
end

-- ---------------------------------------------------------------- tables
local function columns_ddl(cols)
  local parts = {}
  for _, c in ipairs(cols or {}) do
    local p = q.ident(c.name) .. " " .. (c.type_text or c.type_name or "STRING")
    if norm_comment(c.comment) then p = p .. " COMMENT " .. q.literal(c.comment) end
    parts[#parts + 1] = p
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

function Planner:share_catalog_for(share)
  local n = share:match("_(%d+)$") or share
  return self.cfg.sharing.catalog_prefix .. "_" .. n
end

function Planner:plan_tables()
  local delta_wanted = {}      -- source full names that go through the share
  local pending = {}           -- source full -> function(share_catalog) planning its clone
  for _, full in ipairs(util.sorted_keys(self.src.tables)) do
    local t = self.src.tables[full]
    local schema_tgt = self.target_of[t.catalog .. "." .. t.schema]
    if schema_tgt then
      local kind = (t.table_type == "VIEW") and "view" or "table"
      local ok, policy = self:scope(t, kind)
      if ok then
        local tgt, why = self:target_name(t)
        if not tgt then self:fail(full, why, kind) goto continue end
        self.target_of[full] = tgt
        self.object_map[full:lower()] = tgt
        self.selected_targets[tgt] = full
        if kind == "view" then
          self.views_pending = true   -- planned later, in dependency order
        elseif t.table_type == "MATERIALIZED_VIEW" or t.table_type == "STREAMING_TABLE" then
          self:skip(tgt, t.table_type .. " cannot be cloned: rebuild it in dr by running its pipeline", "table")
          self.blocked[tgt] = "not replicated"
        elseif has_policy(t) and self.cfg.protected_tables == "skip" then
          self:skip(tgt, "protected by a row filter or column mask: a copy would read through the policy "
            .. "(set protected_tables = \"metadata_only\" to create it empty, or exempt the share owner)", "table")
          self.blocked[tgt] = "protected table skipped"
        elseif policy == "metadata_only" or (has_policy(t) and self.cfg.protected_tables == "metadata_only") then
          self:plan_metadata_only(t, tgt)
        elseif (t.format or "DELTA"):upper() == "DELTA" then
          if t.table_type == "EXTERNAL" then
            local loc, lwhy = storage.map(t.location, self.cfg.storage)
            if not loc then self:fail(tgt, lwhy, "table") goto continue end
            t = util.copy(t); t.mapped_location = loc
          end
          delta_wanted[#delta_wanted + 1] = full
          pending[full] = { t = t, tgt = tgt }
        else
          self:plan_register(t, tgt)
        end
      end
    end
    ::continue::
  end
  self:plan_shares(delta_wanted, pending)
end

function Planner:plan_metadata_only(t, tgt)
  local d = self.dst.tables[tgt]
  if d and columns_equal(d.columns, t.columns) then return end
  local sql = (d and "CREATE OR REPLACE TABLE " or "CREATE TABLE IF NOT EXISTS ") .. q.name(tgt) .. " "
    .. columns_ddl(t.columns) .. " USING DELTA"
  self:add{ phase = "register", op = d and "replace" or "create", kind = "table", object = tgt, source = t.full,
    reason = (d and "columns differ" or "missing in dr") .. " (metadata only: no data copied)",
    steps = { sql_step(sql) } }
  self.recreated[tgt] = true
end

-- External non-Delta tables: their files arrive by storage geo-replication; register the table
-- at the mapped location. Dropping an external table never deletes its files.
function Planner:plan_register(t, tgt)
  local loc, why = storage.map(t.location, self.cfg.storage)
  if not loc then self:fail(tgt, why, "table") return end
  local d = self.dst.tables[tgt]
  local create = "CREATE TABLE IF NOT EXISTS " .. q.name(tgt) .. " " .. columns_ddl(t.columns) .. " USING "
    .. t.format:upper() .. " LOCATION " .. q.literal(loc)
  if norm_comment(t.comment) then create = create .. " COMMENT " .. q.literal(t.comment) end
  if not d then
    self:add{ phase = "register", op = "create", kind = "table", object = tgt, source = t.full,
      reason = "missing in dr (" .. t.format:upper() .. " at the mapped location)", steps = { sql_step(create) } }
    self.recreated[tgt] = true
  elseif d.location ~= loc or not columns_equal(d.columns, t.columns) then
    self:add{ phase = "register", op = "replace", kind = "table", object = tgt, source = t.full,
      reason = d.location ~= loc and ("location " .. tostring(d.location) .. " is not the mapped " .. loc)
        or "columns differ",
      steps = { sql_step("DROP TABLE IF EXISTS " .. q.name(tgt)), sql_step(create) } }
    self.recreated[tgt] = true
  end
end

function Planner:plan_shares(delta_wanted, pending)
  if #delta_wanted == 0 then return end
  local sh = self.cfg.sharing
  local ours = {}
  for name, info in pairs(self.src.shares or {}) do
    if name:sub(1, #sh.share_prefix + 1) == sh.share_prefix .. "_" then ours[name] = info.tables or {} end
  end
  local assign = shares.assign(ours, delta_wanted, { prefix = sh.share_prefix, max_tables = sh.max_tables,
    max_schemas = sh.max_schemas })
  local created = util.set(assign.create)
  for _, name in ipairs(assign.create) do
    self:add{ phase = "share", op = "create", kind = "share", object = name, side = "src",
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
      self:add{ phase = "share", op = "update", kind = "share", object = name .. "#" .. i, side = "src",
        needs = created[name] and { name } or nil,
        reason = "add " .. #batch .. " table(s) the share lacks", tables = batch,
        steps = { { side = "src", rest = { method = "PATCH", path = "/api/2.1/unity-catalog/shares/" .. urlenc(name),
          body = { updates = updates } } } } }
    end
  end
  -- every share we use must be granted to the recipient and mounted in dr
  local used = {}
  for _, share in pairs(assign.location) do used[share] = true end
  for _, share in ipairs(util.sorted_keys(used)) do
    local info = (self.src.shares or {})[share] or {}
    local granted = false
    for _, r in ipairs(info.recipients or {}) do if r == sh.recipient then granted = true end end
    if not sh.recipient then
      self:fail(share, "sharing.recipient is not set in the replication config", "share")
    elseif not granted then
      self:add{ phase = "share_grant", op = "grant", kind = "share", object = share, side = "src",
        needs = created[share] and { share } or nil,
        reason = "recipient " .. sh.recipient .. " cannot read it yet",
        steps = { { side = "src", rest = { method = "PATCH", path = "/api/2.1/unity-catalog/shares/" .. urlenc(share) .. "/permissions",
          body = { changes = { { principal = sh.recipient, add = { "SELECT" } } } } } } } }
    end
    local cat = self:share_catalog_for(share)
    if not (self.dst.catalogs[cat]) then
      if not self.dst.provider then
        self:fail(cat, "no Delta Sharing provider for prod's metastore in dr (create the recipient in prod first: "
          .. "the deployment does; or set sharing.provider)", "catalog")
      else
        self:add{ phase = "share_catalog", op = "create", kind = "catalog", object = cat,
          needs = created[share] and { share } or nil,
          reason = "mount share " .. share .. " from provider " .. self.dst.provider,
          steps = { { side = "dst", rest = { method = "POST", path = "/api/2.1/unity-catalog/catalogs",
            body = { name = cat, provider_name = self.dst.provider, share_name = share,
              comment = "drhost: prod tables shared for cloning" } } } } }
      end
    end
  end
  for _, full in ipairs(delta_wanted) do
    local p = pending[full]
    local share = assign.location[full]
    local cat = self:share_catalog_for(share)
    if self.blocked[cat] or self.blocked[share] then
      self:fail(p.tgt, "its share cannot be used: " .. (self.blocked[cat] or self.blocked[share]), "table")
    else
      local parts = util.split_name(full)
      self:plan_clone(p.t, p.tgt, cat .. "." .. parts[2] .. "." .. parts[3], share)
    end
  end
end

-- Decide whether a Delta table must be cloned: the state kept in dr says which source version
-- the replica reflects; a different version, a recreated source, a changed location or a
-- missing replica all mean clone; equal means nothing to do.
function Planner:clone_reason(t, tgt)
  local d = self.dst.tables[tgt]
  local v = (self.src.versions or {})[t.full]
  local st = (self.dst.state or {})[tgt]
  if not d then return "missing in dr" end
  if d.table_type == "VIEW" then return "dr has a view by that name" end
  if t.mapped_location and d.location ~= t.mapped_location then
    return "location " .. tostring(d.location) .. " is not the mapped " .. t.mapped_location
  end
  if self.cfg.clone_strategy == "always" then return "clone_strategy = always" end
  if not v or v.version == nil then return "source version unknown: cloning to be safe" end
  if not st then
    local h = (self.dst.clone_history or {})[tgt]
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

function Planner:plan_clone(t, tgt, clone_src, share)
  local reason, special = self:clone_reason(t, tgt)
  local v = (self.src.versions or {})[t.full] or {}
  local st = (self.dst.state or {})[tgt]
  self.table_status[#self.table_status + 1] = { object = tgt, source = t.full, source_version = v.version,
    source_commit_ts = v.ts, cloned_version = st and st.source_version, cloned_commit_ts = st and st.source_commit_ts,
    cloned_at = st and st.cloned_at, in_sync = (reason == nil and special == nil), reason = reason or special,
    missing = self.dst.tables[tgt] == nil }
  local record = { object = tgt, source = t.full, source_table_id = t.table_id, source_version = v.version,
    source_commit_ts = v.ts, share = share }
  if special == "record" then
    self:add{ phase = "clone", op = "record", kind = "table", object = tgt, source = t.full,
      reason = "replica already reflects source version " .. tostring(v.version) .. ": record it", record = record,
      steps = {} }
    return
  end
  if not reason then return end
  local sql = "CREATE OR REPLACE TABLE " .. q.name(tgt) .. " DEEP CLONE " .. q.name(clone_src)
  local phase = "clone"
  if t.mapped_location then
    sql = sql .. " LOCATION " .. q.literal(t.mapped_location)
    phase = "external_clone"
  end
  self:add{ phase = phase, op = "clone", kind = "table", object = tgt, source = t.full, reason = reason,
    needs = { self:share_catalog_for(share) }, record = record, steps = { sql_step(sql, { clone = true }) } }
  self.recreated[tgt] = true
  self.cloned = (self.cloned or 0) + 1
end

-- Comments (not copied by DEEP CLONE) and column comments.
function Planner:plan_table_metadata()
  for _, full in ipairs(util.sorted_keys(self.src.tables)) do
    local t = self.src.tables[full]
    local tgt = self.target_of[full]
    if tgt and not self.blocked[tgt] and t.table_type ~= "VIEW" then
      local d = self.dst.tables[tgt]
      local steps, reasons = {}, {}
      local want = norm_comment(t.comment)
      if (self.recreated[tgt] and want) or (d and not self.recreated[tgt] and norm_comment(d.comment) ~= want) then
        steps[#steps + 1] = sql_step("COMMENT ON TABLE " .. q.name(tgt) .. " IS " .. (want and q.literal(want) or "NULL"))
        reasons[#reasons + 1] = self.recreated[tgt] and "comment (not copied by clone)" or "comment differs"
      end
      if d and not self.recreated[tgt] then
        local dcols = {}
        for _, c in ipairs(d.columns or {}) do dcols[c.name:lower()] = c end
        for _, c in ipairs(t.columns or {}) do
          local dc = dcols[c.name:lower()]
          if dc and norm_comment(dc.comment) ~= norm_comment(c.comment) then
            steps[#steps + 1] = sql_step("ALTER TABLE " .. q.name(tgt) .. " ALTER COLUMN " .. q.ident(c.name)
              .. " COMMENT " .. q.literal(c.comment or ""))
            reasons[#reasons + 1] = "column " .. c.name .. " comment differs"
          end
        end
      end
      if #steps > 0 then
        self:add{ phase = "metadata", op = "update", kind = "table", object = tgt, source = full,
          reason = table.concat(reasons, ", "), steps = steps }
      end
    end
  end
end

-- ---------------------------------------------------------------- functions and views
function Planner:rewrite(text)
  local out = tokenizer.rewrite_catalogs(text, self.cfg.catalogs)
  -- renamed objects: rewrite their full names too (after the catalog mapping)
  if next(self.object_map) then
    local renames = {}
    for src_full, tgt in pairs(self.object_map) do
      local parts = util.split_name(src_full)
      local mapped = (self.cfg.catalogs[parts[1]] or parts[1]) .. "." .. parts[2] .. "." .. parts[3]
      if mapped ~= tgt:lower() then renames[mapped] = tgt end
    end
    if next(renames) then out = M.rewrite_objects(out, renames) end
  end
  return out
end

-- Replace whole three-part names (after catalog mapping) listed in `renames` (lower-case full ->
-- new full).
function M.rewrite_objects(text, renames)
  local toks = tokenizer.tokenize(text)
  local replace, drop = {}, {}
  for _, name in ipairs(tokenizer.names(toks)) do
    if #name.parts >= 3 then
      local key = (name.parts[1] .. "." .. name.parts[2] .. "." .. name.parts[3]):lower()
      local new = renames[key]
      if new then
        replace[name.tokens[1]] = q.name(new)
        for i = name.tokens[1] + 1, name.tokens[3] do drop[i] = true end
      end
    end
  end
  local buf = {}
  for i, t in ipairs(toks) do
    if replace[i] then buf[#buf + 1] = replace[i] elseif not drop[i] then buf[#buf + 1] = t.text end
  end
  return table.concat(buf)
end

local function function_signature(f)
  local ps = {}
  for _, p in ipairs(f.params or {}) do ps[#ps + 1] = q.ident(p.name) .. " " .. p.type_text end
  return "(" .. table.concat(ps, ", ") .. ")"
end

-- Each object of `objects` (source full name -> object) whose schema is replicated and that the
-- filters and hooks select, in name order: registers its target (same name in the target schema)
-- and calls fn(obj, full, tgt).
function Planner:each_selected(objects, kind, fn)
  for _, full in ipairs(util.sorted_keys(objects or {})) do
    local obj = objects[full]
    local schema_tgt = self.target_of[obj.catalog .. "." .. obj.schema]
    if schema_tgt and self:scope(obj, kind) then
      local tgt = schema_tgt .. "." .. obj.name
      self.target_of[full] = tgt
      self.selected_targets[tgt] = full
      fn(obj, full, tgt)
    end
  end
end

function Planner:plan_functions()
  self:each_selected(self.src.functions, "function", function(f, full, tgt)
    if (f.language or "SQL"):upper() ~= "SQL" then
      self:skip(tgt, "only SQL functions are replicated (" .. tostring(f.language) .. " body)", "function")
      self.blocked[tgt] = "not replicated"
      return
    end
    local okr, body = pcall(self.rewrite, self, f.body or "")
    if not okr then return self:fail(tgt, util.errtext(body), "function") end
    local d = (self.dst.functions or {})[tgt]
    local same = d and d.body == body and function_signature(d) == function_signature(f)
      and (d.returns or ""):upper() == (f.returns or ""):upper() and norm_comment(d.comment) == norm_comment(f.comment)
    if not same then
      local sql = "CREATE OR REPLACE FUNCTION " .. q.name(tgt) .. function_signature(f) .. " RETURNS " .. f.returns
      if norm_comment(f.comment) then sql = sql .. " COMMENT " .. q.literal(f.comment) end
      sql = sql .. " RETURN " .. body
      self:add{ phase = "function", op = d and "replace" or "create", kind = "function", object = tgt, source = full,
        reason = d and "definition differs" or "missing in dr", steps = { sql_step(sql) } }
      self.recreated[tgt] = true
    end
  end)
end

function Planner:plan_views()
  local views, deps = {}, {}
  for _, full in ipairs(util.sorted_keys(self.src.tables)) do
    local t = self.src.tables[full]
    local tgt = self.target_of[full]
    if tgt and t.table_type == "VIEW" and not self.blocked[tgt] then
      views[#views + 1] = full
      local okr, refs = pcall(tokenizer.references, t.view_definition or "", t.catalog)
      if not okr then self:fail(tgt, util.errtext(refs), "view") else
        deps[full] = {}
        for _, r in ipairs(refs) do deps[full][#deps[full] + 1] = r end
        -- UC's own view_dependencies, when the inventory has them, are authoritative
        for _, r in ipairs(t.view_dependencies or {}) do deps[full][#deps[full] + 1] = r:lower() end
      end
    end
  end
  local lower_to_full = {}
  for _, v in ipairs(views) do lower_to_full[v:lower()] = v end
  local deps_full = {}
  for v, ds in pairs(deps) do
    deps_full[v] = {}
    for _, d in ipairs(ds) do deps_full[v][#deps_full[v] + 1] = lower_to_full[d] or d end
  end
  local ordered, cycles, waiting = order.toposort(views, deps_full)
  for _, c in ipairs(cycles) do
    for _, v in ipairs(c.members) do
      self:fail(self.target_of[v], "views reference each other in a cycle: " .. table.concat(c.members, " -> "), "view")
    end
  end
  for _, v in ipairs(waiting) do
    self:fail(self.target_of[v], "depends on a view in a reference cycle", "view")
  end
  for rank, full in ipairs(ordered) do
    local t = self.src.tables[full]
    local tgt = self.target_of[full]
    if not self.blocked[tgt] then
      local okr, body = pcall(self.rewrite, self, t.view_definition or "")
      if not okr then self:fail(tgt, util.errtext(body), "view") goto continue end
      local needs, blocked_by = {}, nil
      for _, d in ipairs(deps_full[full] or {}) do
        local dt = self.target_of[d] or self.target_of[d:lower()]
        if dt then
          needs[#needs + 1] = dt
          if self.blocked[dt] then blocked_by = dt end
        elseif self.src.tables[d] or (self.src.functions or {})[d] then
          -- exists in prod but is not replicated (excluded, filtered or skipped)
          self.blocked[d] = self.blocked[d] or "excluded from replication"
          blocked_by = d
        end
      end
      if blocked_by then
        self:fail(tgt, "depends on " .. blocked_by .. ", which is not replicated: " .. self.blocked[blocked_by], "view")
        goto continue
      end
      local d = self.dst.tables[tgt]
      local needs_replace = false
      for _, n in ipairs(needs) do if self.recreated[n] and self.dst.tables[n] == nil then needs_replace = true end end
      local same = d and d.table_type == "VIEW" and d.view_definition == body
        and norm_comment(d.comment) == norm_comment(t.comment)
      if not same or needs_replace then
        local sql = "CREATE OR REPLACE VIEW " .. q.name(tgt)
        if norm_comment(t.comment) then sql = sql .. " COMMENT " .. q.literal(t.comment) end
        sql = sql .. " AS " .. body
        local parts = util.split_name(tgt)
        self:add{ phase = "view", op = d and "replace" or "create", kind = "view", object = tgt, source = full,
          reason = (not d and "missing in dr") or (d.view_definition ~= body and "definition differs") or "comment differs",
          rank = rank, needs = needs,
          steps = { sql_step(sql, { catalog = parts[1], schema = parts[2] }) } }
        self.recreated[tgt] = true
      end
    end
    ::continue::
  end
end

-- ---------------------------------------------------------------- volumes
function Planner:plan_volumes()
  self:each_selected(self.src.volumes, "volume", function(v, full, tgt)
    local d = (self.dst.volumes or {})[tgt]
    if v.volume_type == "EXTERNAL" then
      local loc, why = storage.map(v.location, self.cfg.storage)
      if not loc then return self:fail(tgt, why, "volume") end
      if not d then
        local sql = "CREATE EXTERNAL VOLUME IF NOT EXISTS " .. q.name(tgt) .. " LOCATION " .. q.literal(loc)
        if norm_comment(v.comment) then sql = sql .. " COMMENT " .. q.literal(v.comment) end
        self:add{ phase = "volume", op = "create", kind = "volume", object = tgt, source = full,
          reason = "missing in dr (files come by storage geo-replication)", steps = { sql_step(sql) } }
        self.recreated[tgt] = true
        return
      elseif d.location ~= loc then
        return self:fail(tgt, "dr volume is at " .. tostring(d.location) .. ", not the mapped " .. loc
          .. " (drop it in dr to let replication recreate it)", "volume")
      end
    elseif not d then
      local sql = "CREATE VOLUME IF NOT EXISTS " .. q.name(tgt)
      if norm_comment(v.comment) then sql = sql .. " COMMENT " .. q.literal(v.comment) end
      self:add{ phase = "volume", op = "create", kind = "volume", object = tgt, source = full,
        reason = "missing in dr (managed volume: files are not copied)", steps = { sql_step(sql) } }
      self:warn(tgt, "managed volume files are not copied")
      self.recreated[tgt] = true
      return
    end
    if norm_comment(d.comment) ~= norm_comment(v.comment) then
      self:add{ phase = "metadata", op = "update", kind = "volume", object = tgt, source = full,
        reason = "comment differs", steps = { sql_step("COMMENT ON VOLUME " .. q.name(tgt) .. " IS "
          .. (norm_comment(v.comment) and q.literal(v.comment) or "NULL")) } }
    end
  end)
end

-- ---------------------------------------------------------------- tags, grants, owners, policies
local function kind_of(src_inv, full, default)
  local t = src_inv.tables[full]
  if t then return t.table_type == "VIEW" and "view" or "table" end
  return default
end

-- Every replicated securable: list of { kind=, src=, tgt=, obj= } in phase-friendly order.
function Planner:securables()
  local out = {}
  local function add(kind, src_full, obj)
    local tgt = self.target_of[src_full]
    if tgt and not self.blocked[tgt] then out[#out + 1] = { kind = kind, src = src_full, tgt = tgt, obj = obj } end
  end
  for _, c in ipairs(util.sorted_keys(self.cfg.catalogs)) do
    if self.src.catalogs[c] then add("catalog", c, self.src.catalogs[c]) end
  end
  for _, s in ipairs(util.sorted_keys(self.src.schemas)) do add("schema", s, self.src.schemas[s]) end
  for _, t in ipairs(util.sorted_keys(self.src.tables)) do add(kind_of(self.src, t), t, self.src.tables[t]) end
  for _, v in ipairs(util.sorted_keys(self.src.volumes or {})) do add("volume", v, self.src.volumes[v]) end
  for _, f in ipairs(util.sorted_keys(self.src.functions or {})) do add("function", f, self.src.functions[f]) end
  return out
end

function Planner:dst_object(kind, tgt)
  if kind == "catalog" then return self.dst.catalogs[tgt]
  elseif kind == "schema" then return self.dst.schemas[tgt]
  elseif kind == "table" or kind == "view" then return self.dst.tables[tgt]
  elseif kind == "volume" then return (self.dst.volumes or {})[tgt]
  else return (self.dst.functions or {})[tgt] end
end

function Planner:plan_tags()
  for _, sec in ipairs(self:securables()) do
    if sec.kind ~= "function" then
      local d = self:dst_object(sec.kind, sec.tgt)
      local fresh = self.recreated[sec.tgt] or not d
      local have = (not fresh and d and d.tags) or {}
      local want = sec.obj.tags or {}
      local set, unset = {}, {}
      for k, v in pairs(want) do if have[k] ~= v then set[k] = v end end
      for k in pairs(have) do if want[k] == nil then unset[#unset + 1] = k end end
      table.sort(unset)
      local steps, reasons = {}, {}
      local name = sec.kind == "catalog" and q.ident(sec.tgt) or q.name(sec.tgt)
      if next(set) then
        steps[#steps + 1] = sql_step("ALTER " .. SQL_KIND[sec.kind] .. " " .. name .. " SET TAGS " .. q.kv_list(set))
        reasons[#reasons + 1] = "set " .. table.concat(util.sorted_keys(set), ",")
      end
      if #unset > 0 then
        steps[#steps + 1] = sql_step("ALTER " .. SQL_KIND[sec.kind] .. " " .. name .. " UNSET TAGS " .. q.key_list(unset))
        reasons[#reasons + 1] = "unset " .. table.concat(unset, ",")
      end
      -- column tags (tables and views)
      if sec.kind == "table" or sec.kind == "view" then
        local dcol = (not fresh and d and d.column_tags) or {}
        for _, col in ipairs(util.sorted_keys(sec.obj.column_tags or {})) do
          local w, h = sec.obj.column_tags[col], dcol[col] or {}
          if not same_map(w, h) or fresh then
            local cset = {}
            for k, v in pairs(w) do if h[k] ~= v or fresh then cset[k] = v end end
            if next(cset) then
              steps[#steps + 1] = sql_step("ALTER TABLE " .. name .. " ALTER COLUMN " .. q.ident(col) .. " SET TAGS " .. q.kv_list(cset))
              reasons[#reasons + 1] = "column " .. col .. " tags"
            end
          end
        end
        for _, col in ipairs(util.sorted_keys(dcol)) do
          local w, h = (sec.obj.column_tags or {})[col] or {}, dcol[col]
          local cun = {}
          for k in pairs(h) do if w[k] == nil then cun[#cun + 1] = k end end
          table.sort(cun)
          if #cun > 0 then
            steps[#steps + 1] = sql_step("ALTER TABLE " .. name .. " ALTER COLUMN " .. q.ident(col) .. " UNSET TAGS " .. q.key_list(cun))
            reasons[#reasons + 1] = "column " .. col .. " tags removed"
          end
        end
      end
      if #steps > 0 then
        self:add{ phase = "tags", op = "update", kind = sec.kind, object = sec.tgt, source = sec.src,
          reason = table.concat(reasons, "; "), steps = steps }
      end
    end
  end
end

function Planner:plan_grants()
  local pcfg = self.cfg.principals
  for _, sec in ipairs(self:securables()) do
    local key = sec.kind .. ":" .. sec.src
    local src_grants = (self.src.grants or {})[key] or {}
    local desired, notes = grants.desired(src_grants, sec.kind, pcfg)
    for _, p in ipairs(notes.unmapped) do
      self:warn(sec.tgt, "principal " .. p .. " has no mapping in dr (principals.map): its grants are not replicated")
      self.unmapped = self.unmapped or {}
      self.unmapped[p] = true
    end
    for _, inv in ipairs(notes.invalid) do
      self:warn(sec.tgt, "privilege " .. inv.privilege .. " of " .. inv.principal .. " is not valid on a " .. sec.kind .. ": skipped")
    end
    local have = (self.dst.grants or {})[sec.kind .. ":" .. sec.tgt] or {}
    -- a replaced table or view keeps its grants in Unity Catalog (CREATE OR REPLACE keeps the
    -- securable), so the diff against dr's current grants is the whole story; new objects have none.
    local changes = grants.diff(desired, have, self.cfg.protected_principals)
    if #changes > 0 then
      local path = "/api/2.1/unity-catalog/permissions/" .. grants.securable_type[sec.kind] .. "/" .. urlenc(sec.tgt)
      self:add{ phase = "grants", op = "update", kind = sec.kind, object = sec.tgt, source = sec.src,
        reason = grants.describe(changes), changes = changes,
        steps = { { side = "dst", rest = { method = "PATCH", path = path, body = { changes = changes } } } } }
    end
  end
end

function Planner:plan_owners()
  local pcfg = self.cfg.principals
  local unmapped_owners = {}
  for _, sec in ipairs(self:securables()) do
    local owner = sec.obj.owner
    if owner and owner ~= "" then
      local mapped, why = grants.map_principal(owner, pcfg)
      local d = self:dst_object(sec.kind, sec.tgt)
      if not mapped then
        unmapped_owners[owner] = unmapped_owners[owner] or { why = why, objects = {} }
        table.insert(unmapped_owners[owner].objects, sec.tgt)
      elseif not d or d.owner ~= mapped then
        local name = sec.kind == "catalog" and q.ident(sec.tgt) or q.name(sec.tgt)
        self:add{ phase = "owner", op = "update", kind = sec.kind, object = sec.tgt, source = sec.src,
          reason = "owner " .. tostring(d and d.owner or "(new)") .. " -> " .. mapped,
          steps = { sql_step("ALTER " .. SQL_KIND[sec.kind] .. " " .. name .. " OWNER TO " .. q.ident(mapped)) } }
      end
    end
  end
  for _, owner in ipairs(util.sorted_keys(unmapped_owners)) do
    local u = unmapped_owners[owner]
    self:warn(owner, string.format("owner of %d object(s) (%s%s) is %s in dr: ownership not replicated for them",
      #u.objects, table.concat(u.objects, ", ", 1, math.min(3, #u.objects)), #u.objects > 3 and ", ..." or "", u.why))
  end
end

-- Row filters and column masks, re-applied when a protected table is replicated as metadata only
-- (its filter/mask functions were created in the function phase).
function Planner:plan_policies()
  if self.cfg.protected_tables ~= "metadata_only" then return end
  for _, full in ipairs(util.sorted_keys(self.src.tables)) do
    local t = self.src.tables[full]
    local tgt = self.target_of[full]
    if tgt and not self.blocked[tgt] and t.table_type ~= "VIEW" and has_policy(t) then
      local d = self.dst.tables[tgt]
      local fresh = self.recreated[tgt] or not d
      local steps = {}
      local rf = t.row_filter
      if rf and rf.function_name then
        local fn = self:rewrite_function_name(rf.function_name)
        if fresh or not (d.row_filter and d.row_filter.function_name == fn) then
          local cols = {}
          for _, c in ipairs(rf.input_column_names or {}) do cols[#cols + 1] = q.ident(c) end
          steps[#steps + 1] = sql_step("ALTER TABLE " .. q.name(tgt) .. " SET ROW FILTER " .. q.name(fn)
            .. " ON (" .. table.concat(cols, ", ") .. ")")
        end
      end
      local dcols = {}
      for _, c in ipairs((d and d.columns) or {}) do dcols[c.name:lower()] = c end
      for _, c in ipairs(t.columns or {}) do
        if c.mask and c.mask.function_name then
          local fn = self:rewrite_function_name(c.mask.function_name)
          local dc = dcols[c.name:lower()]
          if fresh or not (dc and dc.mask and dc.mask.function_name == fn) then
            local sql = "ALTER TABLE " .. q.name(tgt) .. " ALTER COLUMN " .. q.ident(c.name) .. " SET MASK " .. q.name(fn)
            if c.mask.using_column_names and #c.mask.using_column_names > 0 then
              local cols = {}
              for _, u in ipairs(c.mask.using_column_names) do cols[#cols + 1] = q.ident(u) end
              sql = sql .. " USING COLUMNS (" .. table.concat(cols, ", ") .. ")"
            end
            steps[#steps + 1] = sql_step(sql)
          end
        end
      end
      if #steps > 0 then
        self:add{ phase = "policy", op = "update", kind = "table", object = tgt, source = full,
          reason = "re-apply row filter / column masks", steps = steps }
      end
    end
  end
end

function Planner:rewrite_function_name(fn)
  local parts = util.split_name(fn:lower())
  if #parts == 3 then parts[1] = self.cfg.catalogs[parts[1]] or parts[1] end
  return table.concat(parts, ".")
end

-- ---------------------------------------------------------------- prune
function Planner:plan_prune()
  local reverse = {}
  for s, t in pairs(self.cfg.catalogs) do reverse[t] = s end
  local extras, total = {}, 0
  local function consider(kind, tgt)
    local parts = util.split_name(tgt)
    local src_cat = reverse[parts[1]]
    if not src_cat then return end
    if parts[2] == "information_schema" then return end
    total = total + 1
    if self.selected_targets[tgt] then return end
    -- objects outside the configured scope are not ours to drop
    parts[1] = src_cat
    local src_full = table.concat(parts, ".")
    if kind == "schema" then
      if not self:schema_selected(src_full) then return end
    elseif not config.selected(self.cfg, src_full) then return end
    if self.src.tables[src_full] or self.src.schemas[src_full] or (self.src.volumes or {})[src_full]
      or (self.src.functions or {})[src_full] then return end  -- exists in prod but filtered/skipped
    extras[#extras + 1] = { kind = kind, object = tgt }
  end
  for _, s in ipairs(util.sorted_keys(self.dst.schemas)) do consider("schema", s) end
  for _, t in ipairs(util.sorted_keys(self.dst.tables)) do
    consider(self.dst.tables[t].table_type == "VIEW" and "view" or "table", t)
  end
  for _, v in ipairs(util.sorted_keys(self.dst.volumes or {})) do consider("volume", v) end
  for _, f in ipairs(util.sorted_keys(self.dst.functions or {})) do consider("function", f) end
  if #extras == 0 then return end
  if not self.cfg.prune then
    for _, e in ipairs(extras) do
      self.notes[#self.notes + 1] = { object = e.object, reason = "not in prod; kept (prune = false)" }
    end
    return
  end
  local fraction = #extras / math.max(total, 1)
  if fraction > self.cfg.prune_max_fraction then
    self:fail("prune", string.format("refused: %d of %d objects (%.0f%%) would be dropped, above prune_max_fraction %.0f%%",
      #extras, total, fraction * 100, self.cfg.prune_max_fraction * 100), "prune")
    return
  end
  local rank = { view = 1, ["function"] = 2, table = 3, volume = 4, schema = 5 }
  table.sort(extras, function(a, b)
    if rank[a.kind] ~= rank[b.kind] then return rank[a.kind] < rank[b.kind] end
    return a.object < b.object
  end)
  for i, e in ipairs(extras) do
    local sql = "DROP " .. SQL_KIND[e.kind] .. " IF EXISTS " .. q.name(e.object)
    if e.kind == "schema" then sql = sql .. " CASCADE" end
    self:add{ phase = "prune", op = "drop", kind = e.kind, object = e.object, reason = "not in prod (prune = true)",
      rank = i, steps = { sql_step(sql) } }
  end
end

-- ---------------------------------------------------------------- state bootstrap
function Planner:plan_state()
  if self.dst.state_exists then return end
  local st = self.cfg.state
  local cat = "CREATE CATALOG IF NOT EXISTS " .. q.ident(st.catalog)
  if st.managed_location then cat = cat .. " MANAGED LOCATION " .. q.literal(st.managed_location) end
  self:add{ phase = "state", op = "create", kind = "table", object = st.catalog .. "." .. st.schema .. "." .. st.table,
    reason = "replication state table missing in dr",
    steps = { sql_step(cat), sql_step("CREATE SCHEMA IF NOT EXISTS " .. q.name(st.catalog .. "." .. st.schema)),
      sql_step(M.state_table_ddl(st)) } }
end

function M.state_table_ddl(st)
  return "CREATE TABLE IF NOT EXISTS " .. q.name(st.catalog .. "." .. st.schema .. "." .. st.table)
    .. " (object STRING, source STRING, source_table_id STRING, source_version BIGINT, "
    .. "source_commit_ts STRING, cloned_at STRING, run_id STRING)"
end

-- ---------------------------------------------------------------- entry point
function M.build(cfg, src, dst, opts)
  local p = M.new_planner(cfg, src, dst, opts)
  p:plan_state()
  p:plan_catalogs()
  p:plan_schemas()
  p:plan_tables()
  p:plan_table_metadata()
  p:plan_functions()
  p:plan_views()
  p:plan_volumes()
  p:plan_tags()
  p:plan_grants()
  p:plan_owners()
  p:plan_policies()
  p:plan_prune()
  -- stable order: by phase, then rank (views/prune), then object name
  for i, a in ipairs(p.actions) do a.seq = i end
  table.sort(p.actions, function(a, b)
    local pa, pb = M.PHASE_INDEX[a.phase], M.PHASE_INDEX[b.phase]
    if pa ~= pb then return pa < pb end
    if (a.rank or 0) ~= (b.rank or 0) then return (a.rank or 0) < (b.rank or 0) end
    return a.seq < b.seq
  end)
  for i, a in ipairs(p.actions) do a.id = i; a.seq = nil end
  local counts = {}
  for _, a in ipairs(p.actions) do counts[a.op] = (counts[a.op] or 0) + 1 end
  local unmapped = util.sorted_keys(p.unmapped or {})
  return {
    format = "drhost-replication-plan", version = 1,
    created_at = (opts or {}).now, run_id = (opts or {}).run_id,
    source = (opts or {}).source, target = (opts or {}).target,
    actions = p.actions, failed = p.failed, skipped = p.skipped, warnings = p.warnings, notes = p.notes,
    unmapped_principals = unmapped, counts = counts, clones = p.cloned or 0,
    tables = p.table_status,
  }
end

return M

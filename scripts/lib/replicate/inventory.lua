-- luacheck: max line length 160
-- Discovery: reads one side (prod or dr) into the normalised inventory plan.lua diffs.
-- Cost: O(catalogs + schemas) calls -- one listing per schema for tables, volumes and functions
-- (sent concurrently), grants and tags in bulk from each catalog's information_schema (one query
-- per privilege/tag view, with a per-object API fallback when a view cannot be read), the
-- replication state in one query. Source versions: managed Delta tables from the version stamp UC
-- returns in the table listing (no extra call); external Delta tables and tables without a usable
-- stamp from DESCRIBE HISTORY ... LIMIT 1, concurrently, on the prod warehouse (see
-- docs/replication.md "Incremental clones").
local util = require("replicate.util")
local q = require("replicate.sqltext")
local grants_lib = require("replicate.grants")

local M = {}

local P = "/api/2.1/unity-catalog"

local json_ok, json = pcall(require, "json")
local function null(v)
  if v == nil then return true end
  if json_ok and v == json.null then return true end
  return false
end
local function val(v) if null(v) then return nil end return v end

local function lower(s) return s and s:lower() or s end

-- Concurrent listing with paging: requests = { {path=, query=, key=} }, returns items per request.
function M.list_many(ws, requests, concurrency)
  local out, pending = {}, {}
  for i, r in ipairs(requests) do
    out[i] = {}
    local query = {}
    for k, v in pairs(r.query or {}) do query[k] = v end
    pending[#pending + 1] = { i = i, path = r.path, query = query, key = r.key }
  end
  local calls = 0
  while #pending > 0 do
    local reqs = {}
    for j, p in ipairs(pending) do reqs[j] = { method = "GET", path = p.path, query = p.query } end
    local res = ws:all(reqs, { concurrency = concurrency })
    calls = calls + #reqs
    local again = {}
    for j, p in ipairs(pending) do
      local r = res[j]
      if r.error then
        out[p.i].error = r.error
      else
        local body = r.body or {}
        for _, item in ipairs(body[p.key] or {}) do table.insert(out[p.i], item) end
        local tok = body.next_page_token
        if type(tok) == "string" and tok ~= "" then
          p.query.page_token = tok
          again[#again + 1] = p
        end
      end
    end
    pending = again
  end
  return out, calls
end

local function props(p)
  local out = {}
  if type(p) == "table" then for k, v in pairs(p) do if not null(v) then out[k] = tostring(v) end end end
  return out
end

local function norm_columns(cols)
  local out = {}
  for _, c in ipairs(cols or {}) do
    local mask = val(c.mask)
    out[#out + 1] = { name = c.name, type_text = c.type_text, type_name = c.type_name, comment = val(c.comment),
      mask = mask and mask.function_name and { function_name = mask.function_name,
        using_column_names = val(mask.using_column_names) or {} } or nil }
  end
  return out
end

function M.norm_table(t)
  local deps = {}
  local vd = val(t.view_dependencies)
  if type(vd) == "table" then
    for _, d in ipairs(val(vd.dependencies) or {}) do
      if type(d) == "table" and type(d.table) == "table" and d.table.table_full_name then
        deps[#deps + 1] = d.table.table_full_name:lower()
      end
    end
  end
  local rf = val(t.row_filter)
  return {
    catalog = lower(t.catalog_name), schema = lower(t.schema_name), name = lower(t.name),
    full = lower(t.catalog_name .. "." .. t.schema_name .. "." .. t.name),
    table_type = t.table_type, format = val(t.data_source_format), location = val(t.storage_location),
    columns = norm_columns(t.columns), comment = val(t.comment), properties = props(t.properties),
    owner = val(t.owner), view_definition = val(t.view_definition), view_dependencies = deps,
    row_filter = rf and rf.function_name and { function_name = rf.function_name,
      input_column_names = val(rf.input_column_names) or {} } or nil,
    table_id = val(t.table_id), updated_at = val(t.updated_at), tags = {}, column_tags = {},
  }
end

function M.norm_function(f)
  local params = {}
  local ip = val(f.input_params)
  for _, p in ipairs((ip and val(ip.parameters)) or {}) do
    params[#params + 1] = { name = p.name, type_text = p.type_text }
  end
  local returns = val(f.full_data_type) or val(f.data_type)
  if f.data_type == "TABLE_TYPE" then
    local rp = val(f.return_params)
    local cols = {}
    for _, p in ipairs((rp and val(rp.parameters)) or {}) do cols[#cols + 1] = q.ident(p.name) .. " " .. p.type_text end
    returns = "TABLE (" .. (#cols > 0 and table.concat(cols, ", ") or tostring(val(f.full_data_type))) .. ")"
  end
  return {
    catalog = lower(f.catalog_name), schema = lower(f.schema_name), name = lower(f.name),
    full = lower(f.catalog_name .. "." .. f.schema_name .. "." .. f.name),
    params = params, returns = returns, body = val(f.routine_definition),
    language = (val(f.routine_body) == "SQL" or val(f.routine_body) == nil) and "SQL"
      or (val(f.external_language) or val(f.routine_body)),
    comment = val(f.comment), owner = val(f.owner),
  }
end

-- ---------------------------------------------------------------- bulk grants and tags (SQL)
local PRIV_VIEWS = {
  { kind = "catalog", view = "catalog_privileges", cols = { "catalog_name" } },
  { kind = "schema", view = "schema_privileges", cols = { "catalog_name", "schema_name" } },
  { kind = "table", view = "table_privileges", cols = { "table_catalog", "table_schema", "table_name" } },
  { kind = "volume", view = "volume_privileges", cols = { "volume_catalog", "volume_schema", "volume_name" } },
  { kind = "function", view = "routine_privileges", cols = { "routine_catalog", "routine_schema", "routine_name" } },
}
local TAG_VIEWS = {
  { kind = "catalog", view = "catalog_tags", cols = { "catalog_name" } },
  { kind = "schema", view = "schema_tags", cols = { "catalog_name", "schema_name" } },
  { kind = "table", view = "table_tags", cols = { "catalog_name", "schema_name", "table_name" } },
  { kind = "column", view = "column_tags", cols = { "catalog_name", "schema_name", "table_name", "column_name" } },
  { kind = "volume", view = "volume_tags", cols = { "catalog_name", "schema_name", "volume_name" } },
}

local function join_cols(row, cols, n)
  local parts = {}
  for i = 1, n or #cols do parts[#parts + 1] = tostring(row[cols[i]]):lower() end
  return table.concat(parts, ".")
end

-- ---------------------------------------------------------------- one side
-- side = { ws=, conn=, catalogs = { names }, with_state = {catalog,schema,table} | nil,
--          concurrency = n, stats = {}, delta_metadata = bool (tables listed with include_delta_metadata) }
function M.read(side)
  local ws = side.ws
  local conc = side.concurrency or 8
  local stats = side.stats or {}
  stats.rest, stats.sql = stats.rest or 0, stats.sql or 0
  local inv = { catalogs = {}, schemas = {}, tables = {}, volumes = {}, functions = {}, grants = {},
    warnings = {}, errors = {} }

  -- catalogs: one listing (also finds the share catalogs in dr)
  local cats = ws:list(P .. "/catalogs", nil, "catalogs")
  stats.rest = stats.rest + 1
  for _, c in ipairs(cats) do
    local name = lower(c.name)
    inv.catalogs[name] = { name = name, comment = val(c.comment), owner = val(c.owner), properties = props(c.properties),
      storage_root = val(c.storage_root), catalog_type = val(c.catalog_type), provider_name = val(c.provider_name),
      share_name = val(c.share_name), tags = {} }
  end

  -- schemas of the wanted catalogs
  local reqs, order = {}, {}
  for _, name in ipairs(side.catalogs) do
    if inv.catalogs[name] then
      reqs[#reqs + 1] = { path = P .. "/schemas", query = { catalog_name = name }, key = "schemas" }
      order[#order + 1] = name
    end
  end
  local res, calls = M.list_many(ws, reqs, conc)
  stats.rest = stats.rest + calls
  local schema_list = {}
  for i, items in ipairs(res) do
    if items.error then
      inv.errors[#inv.errors + 1] = { object = order[i], reason = util.errtext(items.error) }
    end
    for _, s in ipairs(items) do
      local full = lower(s.catalog_name .. "." .. s.name)
      if lower(s.name) ~= "information_schema" then
        inv.schemas[full] = { catalog = lower(s.catalog_name), name = lower(s.name), full = full, comment = val(s.comment),
          owner = val(s.owner), properties = props(s.properties), storage_root = val(s.storage_root), tags = {} }
        schema_list[#schema_list + 1] = inv.schemas[full]
      end
    end
  end

  -- tables, volumes, functions per schema, all at once
  reqs = {}
  for _, s in ipairs(schema_list) do
    local qy = { catalog_name = s.catalog, schema_name = s.name }
    local tq = { catalog_name = s.catalog, schema_name = s.name }
    -- ask for the Delta metadata (version stamps) where the caller takes versions from the listing
    if side.delta_metadata then tq.include_delta_metadata = "true" end
    reqs[#reqs + 1] = { path = P .. "/tables", query = tq, key = "tables", kind = "table" }
    reqs[#reqs + 1] = { path = P .. "/volumes", query = qy, key = "volumes", kind = "volume" }
    reqs[#reqs + 1] = { path = P .. "/functions", query = qy, key = "functions", kind = "function" }
  end
  res, calls = M.list_many(ws, reqs, conc)
  stats.rest = stats.rest + calls
  for i, items in ipairs(res) do
    local r = reqs[i]
    if items.error then
      inv.errors[#inv.errors + 1] = { object = r.query.catalog_name .. "." .. r.query.schema_name,
        reason = "cannot list " .. r.key .. ": " .. util.errtext(items.error) }
    end
    for _, o in ipairs(items) do
      if r.kind == "table" then
        local t = M.norm_table(o); inv.tables[t.full] = t
      elseif r.kind == "volume" then
        local full = lower(o.catalog_name .. "." .. o.schema_name .. "." .. o.name)
        inv.volumes[full] = { catalog = lower(o.catalog_name), schema = lower(o.schema_name), name = lower(o.name),
          full = full, volume_type = val(o.volume_type), location = val(o.storage_location), comment = val(o.comment),
          owner = val(o.owner), tags = {} }
      else
        local f = M.norm_function(o); inv.functions[f.full] = f
      end
    end
  end

  if side.grants ~= false then M.read_grants(side, inv, stats) end
  if side.tags ~= false then M.read_tags(side, inv, stats) end
  return inv
end

-- Direct grants of every object of the wanted catalogs, from information_schema (inherited rows
-- filtered out), falling back to the permissions API per object when a view is not readable.
function M.read_grants(side, inv, stats)
  local list, meta = {}, {}
  for _, cat in ipairs(side.catalogs) do
    if inv.catalogs[cat] then
      for _, v in ipairs(PRIV_VIEWS) do
        local cols = table.concat(v.cols, ", ")
        list[#list + 1] = { "SELECT grantee, privilege_type, inherited_from, " .. cols .. " FROM "
          .. q.ident(cat) .. ".information_schema." .. v.view }
        meta[#meta + 1] = { cat = cat, v = v }
      end
    end
  end
  local res = side.conn:many(list, { concurrency = side.concurrency })
  stats.sql = stats.sql + #list
  local fallback = {}
  for i, r in ipairs(res) do
    local m = meta[i]
    if r.error then
      fallback[#fallback + 1] = m
    else
      for _, row in ipairs(r.rows) do
        local inh = val(row.inherited_from)
        if inh == nil or inh == "NONE" or inh == "" then
          local full = join_cols(row, m.v.cols)
          local kind = m.v.kind
          if kind == "table" and inv.tables[full] and inv.tables[full].table_type == "VIEW" then kind = "view" end
          local key = kind .. ":" .. full
          inv.grants[key] = inv.grants[key] or {}
          local s = inv.grants[key][row.grantee] or {}
          s[grants_lib.normalize_privilege(row.privilege_type)] = true
          inv.grants[key][row.grantee] = s
        end
      end
    end
  end
  if #fallback > 0 then
    local reqs, keys = {}, {}
    local failed_views = {}
    for _, m in ipairs(fallback) do
      failed_views[m.v.kind] = failed_views[m.v.kind] or {}
      failed_views[m.v.kind][m.cat] = true
    end
    local function add(kind, full)
      local vk = (kind == "view") and "table" or kind
      local cat = util.split_name(full)[1]
      if failed_views[vk] and failed_views[vk][cat] then
        reqs[#reqs + 1] = { method = "GET", path = P .. "/permissions/" .. grants_lib.securable_type[kind] .. "/" .. full }
        keys[#keys + 1] = kind .. ":" .. full
      end
    end
    for name in pairs(inv.catalogs) do if util.set(side.catalogs)[name] then add("catalog", name) end end
    for full in pairs(inv.schemas) do add("schema", full) end
    for full, t in pairs(inv.tables) do add(t.table_type == "VIEW" and "view" or "table", full) end
    for full in pairs(inv.volumes) do add("volume", full) end
    for full in pairs(inv.functions) do add("function", full) end
    local rs = side.ws:all(reqs, { concurrency = side.concurrency })
    stats.rest = stats.rest + #reqs
    for i, r in ipairs(rs) do
      if r.error then
        inv.errors[#inv.errors + 1] = { object = keys[i], reason = "cannot read grants: " .. util.errtext(r.error) }
      else
        inv.grants[keys[i]] = grants_lib.to_map((r.body or {}).privilege_assignments)
      end
    end
    inv.warnings[#inv.warnings + 1] = { object = "grants", reason = #fallback
      .. " information_schema privilege view(s) unreadable: read " .. #reqs .. " object(s) through the permissions API" }
  end
end

function M.read_tags(side, inv, stats)
  local list, meta = {}, {}
  for _, cat in ipairs(side.catalogs) do
    if inv.catalogs[cat] then
      for _, v in ipairs(TAG_VIEWS) do
        list[#list + 1] = { "SELECT tag_name, tag_value, " .. table.concat(v.cols, ", ") .. " FROM "
          .. q.ident(cat) .. ".information_schema." .. v.view }
        meta[#meta + 1] = { cat = cat, v = v }
      end
    end
  end
  local res = side.conn:many(list, { concurrency = side.concurrency })
  stats.sql = stats.sql + #list
  local failed = {}
  for i, r in ipairs(res) do
    local m = meta[i]
    if r.error then
      failed[#failed + 1] = m.cat .. ".information_schema." .. m.v.view .. ": " .. util.errtext(r.error)
    else
      for _, row in ipairs(r.rows) do
        local k, value = row.tag_name, val(row.tag_value) or ""
        if m.v.kind == "catalog" then
          local c = inv.catalogs[tostring(row.catalog_name):lower()]
          if c then c.tags[k] = value end
        elseif m.v.kind == "schema" then
          local s = inv.schemas[join_cols(row, m.v.cols)]
          if s then s.tags[k] = value end
        elseif m.v.kind == "table" then
          local t = inv.tables[join_cols(row, m.v.cols)]
          if t then t.tags[k] = value end
        elseif m.v.kind == "column" then
          local t = inv.tables[join_cols(row, m.v.cols, 3)]
          if t then
            local col = tostring(row.column_name)
            t.column_tags[col] = t.column_tags[col] or {}
            t.column_tags[col][k] = value
          end
        else
          local v = inv.volumes[join_cols(row, m.v.cols)]
          if v then v.tags[k] = value end
        end
      end
    end
  end
  if #failed > 0 then
    inv.tags_unreadable = true
    for _, f in ipairs(failed) do inv.errors[#inv.errors + 1] = { object = "tags", reason = f } end
  end
end

-- ---------------------------------------------------------------- versions and state
M.STAMP_VERSION, M.STAMP_TS = "delta.lastUpdateVersion", "delta.lastCommitTimestamp"

-- epoch milliseconds (number or digit string) -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (DESCRIBE HISTORY's shape)
function M.ms_to_iso(ms)
  local n = math.tointeger(tonumber(ms))
  if not n or n < 0 then return nil end
  return os.date("!%Y-%m-%dT%H:%M:%S", n // 1000) .. string.format(".%03dZ", n % 1000)
end

-- Which source versions the listing already gives, and which need DESCRIBE HISTORY.
-- tables: the source inventory's tables (full -> normalised table); names: the Delta tables in
-- scope; opts.mode: "auto" | "history"; opts.recorded: source full name -> source_version in the
-- state table. Returns versions (full -> {version, ts, from = "stamp"}), the names to read with
-- DESCRIBE HISTORY (sorted as given), and the reason each of those is not stamped.
-- A stamp is used only for a MANAGED table (UC commits those itself, so its stamp is the table's
-- version; an EXTERNAL table's writers may commit to storage without UC learning of it at once),
-- only when it is a non-negative integer, and never when it is below the version already recorded
-- as cloned (a stamp going backwards is not trusted: history decides).
function M.stamped_versions(tables, names, opts)
  opts = opts or {}
  local mode, recorded = opts.mode or "auto", opts.recorded or {}
  local versions, need, why = {}, {}, {}
  for _, full in ipairs(names) do
    local t = tables[full] or {}
    local p = t.properties or {}
    local raw = p[M.STAMP_VERSION]
    local v = type(raw) == "string" and raw:match("^%d+$") and math.tointeger(tonumber(raw)) or nil
    local reason
    if mode == "history" then reason = "version_source = history"
    elseif t.table_type ~= "MANAGED" then reason = "external table"
    elseif v == nil then reason = raw == nil and "no version stamp" or "unreadable version stamp"
    elseif recorded[full] ~= nil and (math.tointeger(tonumber(recorded[full])) or -1) > v then
      reason = "stamp below the recorded version"
    end
    if reason then
      need[#need + 1] = full
      why[full] = reason
    else
      versions[full] = { version = v, ts = M.ms_to_iso(p[M.STAMP_TS]), from = "stamp" }
    end
  end
  return versions, need, why
end

-- Latest Delta version of each table: DESCRIBE HISTORY t LIMIT 1, concurrently (O(tables)).
function M.read_versions(side, tables, stats)
  local list = {}
  for i, full in ipairs(tables) do list[i] = { "DESCRIBE HISTORY " .. q.name(full) .. " LIMIT 1" } end
  local out, errs = {}, {}
  if #list == 0 then return out, errs end
  local res = side.conn:many(list, { concurrency = side.concurrency })
  stats.sql = (stats.sql or 0) + #list
  for i, r in ipairs(res) do
    if r.error then
      errs[tables[i]] = util.errtext(r.error)
    else
      local row = r.rows[1]
      if row then
        out[tables[i]] = { version = math.tointeger(tonumber(row.version)) or row.version,
          ts = val(row.timestamp), operation = val(row.operation), parameters = M.decode_params(row.operationParameters) }
      else
        out[tables[i]] = { version = -1 }
      end
    end
  end
  return out, errs
end

function M.decode_params(p)
  p = val(p)
  if type(p) == "table" then return p end
  if type(p) == "string" and json_ok then
    local ok, t = pcall(json.decode, p)
    if ok and type(t) == "table" then return t end
  end
  return {}
end

-- Does a SQL error say that the catalog, schema or table is missing?
M.MISSING_CLASSES = { TABLE_OR_VIEW_NOT_FOUND = true, SCHEMA_NOT_FOUND = true, NO_SUCH_CATALOG_EXCEPTION = true,
  CATALOG_NOT_FOUND = true, NO_SUCH_TABLE_EXCEPTION = true, NO_SUCH_DATABASE_EXCEPTION = true }
function M.is_missing(e)
  if type(e) ~= "table" then return false end
  local class = e.error_class or tostring(e.message or ""):match("^%[([%u_]+)%]")
  if class and M.MISSING_CLASSES[class] then return true end
  local code, msg = tostring(e.code or ""), tostring(e.message or ""):lower()
  return code:match("NOT_FOUND") ~= nil or msg:match("does not exist") ~= nil or msg:match("was not found") ~= nil
end

-- The replication state table in dr: object -> row. Missing table -> exists = false.
function M.read_state(side, st, stats)
  local name = q.name(st.catalog .. "." .. st.schema .. "." .. st.table)
  local res = side.conn:many({ { "SELECT object, source, source_table_id, source_version, source_commit_ts, "
    .. "cloned_at, run_id FROM " .. name } })[1]
  stats.sql = (stats.sql or 0) + 1
  if res.error then
    if M.is_missing(res.error) then return {}, false end
    error(res.error, 0)
  end
  local rows = {}
  for _, r in ipairs(res.rows) do
    rows[r.object] = { source = val(r.source), source_table_id = val(r.source_table_id),
      source_version = math.tointeger(tonumber(val(r.source_version))) or val(r.source_version),
      source_commit_ts = val(r.source_commit_ts), cloned_at = val(r.cloned_at), run_id = val(r.run_id) }
  end
  return rows, true
end

-- Delta Sharing provider in dr for prod's metastore (by global metastore id), or the configured one.
function M.find_provider(dst_ws, src_global_id, configured, stats)
  if configured then return configured end
  local ok, providers = pcall(dst_ws.list, dst_ws, P .. "/providers", nil, "providers")
  stats.rest = (stats.rest or 0) + 1
  if not ok then return nil end
  for _, p in ipairs(providers) do
    if src_global_id and p.data_provider_global_metastore_id == src_global_id then return p.name end
  end
  return nil
end

-- Our shares in prod (name prefix), with their tables and the recipients granted SELECT.
function M.read_shares(src_ws, prefix, stats)
  local out = {}
  local list = src_ws:list(P .. "/shares", nil, "shares")
  stats.rest = (stats.rest or 0) + 1
  local names = {}
  for _, s in ipairs(list) do
    if s.name:sub(1, #prefix + 1) == prefix .. "_" then names[#names + 1] = s.name end
  end
  local reqs = {}
  for _, n in ipairs(names) do
    reqs[#reqs + 1] = { method = "GET", path = P .. "/shares/" .. n, query = { include_shared_data = "true" } }
    reqs[#reqs + 1] = { method = "GET", path = P .. "/shares/" .. n .. "/permissions" }
  end
  local res = src_ws:all(reqs)
  stats.rest = stats.rest + #reqs
  for i, n in ipairs(names) do
    local share, perms = res[2 * i - 1], res[2 * i]
    if share.error then error(share.error, 0) end
    local tables, recipients = {}, {}
    for _, o in ipairs((share.body or {}).objects or {}) do
      if (o.data_object_type or "TABLE") == "TABLE" then tables[#tables + 1] = o.name:lower() end
    end
    if not perms.error then
      for _, a in ipairs((perms.body or {}).privilege_assignments or {}) do
        for _, p in ipairs(a.privileges or {}) do
          if grants_lib.normalize_privilege(p) == "SELECT" then recipients[#recipients + 1] = a.principal end
        end
      end
    end
    out[n] = { tables = tables, recipients = recipients }
  end
  return out
end

return M

-- Discovery: reads one side (prod or dr) into the normalised inventory plan.lua diffs.
-- Cost: O(catalogs + schemas) calls -- one listing per schema for tables, volumes and functions
-- (sent concurrently), grants and tags in bulk from each catalog's information_schema (one query
-- per privilege/tag view, with a per-object API fallback when a view cannot be read), the
-- replication state in one query. Source versions (version_source, docs/replication.md
-- "Incremental clones"): "log" (default) probes the head of each cloned table's Delta log
-- (replicate/deltalog.lua: one vended credential and one listing per table, concurrently) and reads
-- DESCRIBE HISTORY only for the tables that moved or cannot be probed; "history" reads DESCRIBE
-- HISTORY ... LIMIT 1 for every table. Per-schema and per-table requests go out in slices
-- (M.LIST_SLICE, M.SLICE) so that memory does not hold every answer at once.
local errors = require("errors")
local util = require("replicate.util")
local q = require("replicate.sqltext")
local grants_lib = require("replicate.grants")
local kinds = require("replicate.kinds")
local config = require("replicate.config")
local deltalog = require("replicate.deltalog")
local NONE = require("replicate.kinds.table").NONE

local M = {}

local P = "/api/2.1/unity-catalog"

local val = util.val

-- Discovery sends its per-table and per-schema requests in slices: what one slice's requests and
-- answers hold (listed objects before they are normalised, vended credentials, log listings) is
-- garbage before the next slice is sent, so memory grows with the objects kept, not with every
-- answer at once (at 10,000 tables that is most of the peak). Each slice still runs at the full
-- concurrency; a slice ends when its slowest request does.
M.SLICE = 512          -- tables per slice (version probe, DESCRIBE HISTORY)
M.LIST_SLICE = 64      -- listing requests per slice (one per schema and kind)

local slice = util.slice

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

-- Store a listed API object in the inventory under its kind's collection (objects no kind
-- takes, such as information_schema, are left out).
local function keep(inv, collection, raw, lean)
  local kind = kinds.of_collection[collection][1]
  local obj = kind.normalise(raw, lean)
  if kinds.kind_of(collection, obj) then inv[collection][obj.full] = obj end
  return obj
end

-- information_schema views of every kind: privileges and tags (one query per view and catalog).
local function views_of(field)
  local out = {}
  for _, name in ipairs(kinds.SECURABLE_ORDER) do
    local k = kinds.get(name)
    local vs = k[field]
    if vs and vs.view then vs = { vs } end
    for _, v in ipairs(vs or {}) do out[#out + 1] = { kind = k, view = v.view, cols = v.cols, column = v.column } end
  end
  return out
end
local PRIV_VIEWS, TAG_VIEWS = views_of("privilege_view"), views_of("tag_views")

local function join_cols(row, cols, n)
  local parts = {}
  for i = 1, n or #cols do parts[#parts + 1] = tostring(row[cols[i]]):lower() end
  return table.concat(parts, ".")
end

-- ---------------------------------------------------------------- one side
-- side = { ws=, conn=, catalogs = { names }, with_state = {catalog,schema,table} | nil,
--          concurrency = n, stats = {}, lean = true for dr (objects keep only what the plan compares) }
function M.read(side)
  local ws = side.ws
  local conc = side.concurrency or 8
  local stats = side.stats or {}
  stats.rest, stats.sql = stats.rest or 0, stats.sql or 0
  local inv = { grants = {}, warnings = {}, errors = {} }
  for _, coll in ipairs(kinds.collections) do inv[coll] = {} end

  -- catalogs: one listing (also finds the share catalogs in dr)
  local cats = ws:list(P .. "/catalogs", nil, "catalogs")
  stats.rest = stats.rest + 1
  for _, c in ipairs(cats) do keep(inv, "catalogs", c) end

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
      inv.errors[#inv.errors + 1] = { object = order[i], reason = errors.text(items.error) }
    end
    for _, s in ipairs(items) do
      local obj = keep(inv, "schemas", s)
      if inv.schemas[obj.full] then schema_list[#schema_list + 1] = obj end
    end
  end

  -- the kinds listed per schema (tables, volumes, functions), all at once
  reqs = {}
  for _, s in ipairs(schema_list) do
    for _, name in ipairs(kinds.SECURABLE_ORDER) do
      local k = kinds.get(name)
      if k.list then
        local qy = { catalog_name = s.catalog, schema_name = s.name }
        reqs[#reqs + 1] = { path = P .. k.list.path, query = qy, key = k.list.key, collection = k.collection }
      end
    end
  end
  for first = 1, #reqs, M.LIST_SLICE do
    local part = slice(reqs, first, M.LIST_SLICE)
    local listed, n = M.list_many(ws, part, conc)
    stats.rest = stats.rest + n
    for i, items in ipairs(listed) do
      local r = part[i]
      if items.error then
        inv.errors[#inv.errors + 1] = { object = r.query.catalog_name .. "." .. r.query.schema_name,
          reason = "cannot list " .. r.key .. ": " .. errors.text(items.error) }
      end
      for _, o in ipairs(items) do keep(inv, r.collection, o, side.lean) end
    end
  end

  if side.grants ~= false then M.read_grants(side, inv, stats) end
  if side.tags ~= false then M.read_tags(side, inv, stats) end
  return inv
end

-- One query per view of `views` and wanted catalog; returns the results and what each was.
local function query_views(side, inv, stats, views, columns)
  local list, meta = {}, {}
  for _, cat in ipairs(side.catalogs) do
    if inv.catalogs[cat] then
      for _, v in ipairs(views) do
        list[#list + 1] = { "SELECT " .. columns .. ", " .. table.concat(v.cols, ", ") .. " FROM "
          .. q.ident(cat) .. ".information_schema." .. v.view }
        meta[#meta + 1] = { cat = cat, v = v }
      end
    end
  end
  local res = side.conn:many(list, { concurrency = side.concurrency })
  stats.sql = stats.sql + #list
  return res, meta
end

-- The inventory object a privilege or tag row names, and its kind.
local function row_object(inv, v, row, n)
  local full = join_cols(row, v.cols, n)
  local obj = inv[v.kind.collection][full]
  return obj, obj and kinds.kind_of(v.kind.collection, obj) or v.kind, full
end

-- Calls on_row(m, row) for each row of the views that answered, on_failed(m, err) for the others.
local function each_view_row(res, meta, on_failed, on_row)
  for i, r in ipairs(res) do
    if r.error then on_failed(meta[i], r.error)
    else for _, row in ipairs(r.rows) do on_row(meta[i], row) end end
  end
end

-- Direct grants of every object of the wanted catalogs, from information_schema (inherited rows
-- filtered out), falling back to the permissions API per object when a view is not readable.
function M.read_grants(side, inv, stats)
  local res, meta = query_views(side, inv, stats, PRIV_VIEWS, "grantee, privilege_type, inherited_from")
  local fallback = {}
  each_view_row(res, meta, function(m) fallback[#fallback + 1] = m end, function(m, row)
    local inh = val(row.inherited_from)
    if inh == nil or inh == "NONE" or inh == "" then
      local _, kind, full = row_object(inv, m.v, row)
      local key = kind.name .. ":" .. full
      inv.grants[key] = inv.grants[key] or {}
      local s = inv.grants[key][row.grantee] or {}
      s[grants_lib.normalize_privilege(row.privilege_type)] = true
      inv.grants[key][row.grantee] = s
    end
  end)
  if #fallback > 0 then M.read_grants_api(side, inv, stats, fallback) end
end

-- The permissions API, per object, for the objects whose privilege view could not be read.
function M.read_grants_api(side, inv, stats, fallback)
  local failed_views = {}
  for _, m in ipairs(fallback) do
    failed_views[m.v.kind.collection] = failed_views[m.v.kind.collection] or {}
    failed_views[m.v.kind.collection][m.cat] = true
  end
  local wanted = util.set(side.catalogs)
  local reqs, keys = {}, {}
  kinds.each_object(inv, function(kind, full)
    local cat = util.split_name(full)[1]
    if kind and failed_views[kind.collection] and failed_views[kind.collection][cat]
      and (kind.depth > 1 or wanted[full]) then
      reqs[#reqs + 1] = { method = "GET", path = P .. "/permissions/" .. kind.securable .. "/" .. full }
      keys[#keys + 1] = kind.name .. ":" .. full
    end
  end)
  local rs = side.ws:all(reqs, { concurrency = side.concurrency })
  stats.rest = stats.rest + #reqs
  for i, r in ipairs(rs) do
    if r.error then
      inv.errors[#inv.errors + 1] = { object = keys[i], reason = "cannot read grants: " .. errors.text(r.error) }
    else
      inv.grants[keys[i]] = grants_lib.to_map((r.body or {}).privilege_assignments)
    end
  end
  inv.warnings[#inv.warnings + 1] = { object = "grants", reason = #fallback
    .. " information_schema privilege view(s) unreadable: read " .. #reqs .. " object(s) through the permissions API" }
end

-- obj[field] as a table of its own (a listed table starts with the shared read-only empty one).
local function own_table(obj, field)
  local t = obj[field]
  if t == nil or t == NONE then
    t = {}
    obj[field] = t
  end
  return t
end

function M.read_tags(side, inv, stats)
  local res, meta = query_views(side, inv, stats, TAG_VIEWS, "tag_name, tag_value")
  local failed = {}
  each_view_row(res, meta, function(m, e)
    failed[#failed + 1] = m.cat .. ".information_schema." .. m.v.view .. ": " .. errors.text(e)
  end, function(m, row)
    local k, value = row.tag_name, val(row.tag_value) or ""
    local obj = row_object(inv, m.v, row, m.v.column and #m.v.cols - 1 or nil)
    if obj and m.v.column then
      local col = tostring(row.column_name)
      local ct = own_table(obj, "column_tags")
      ct[col] = ct[col] or {}
      ct[col][k] = value
    elseif obj then
      own_table(obj, "tags")[k] = value
    end
  end)
  if #failed > 0 then
    inv.tags_unreadable = true
    for _, f in ipairs(failed) do inv.errors[#inv.errors + 1] = { object = "tags", reason = f } end
  end
end

-- ---------------------------------------------------------------- versions and state
-- Latest Delta version of each table: DESCRIBE HISTORY t LIMIT 1, concurrently (O(tables)), in
-- slices of M.SLICE statements.
function M.read_versions(side, tables, stats)
  local out, errs = {}, {}
  for first = 1, #tables, M.SLICE do
    local part = slice(tables, first, M.SLICE)
    local list = {}
    for i, full in ipairs(part) do list[i] = { "DESCRIBE HISTORY " .. q.name(full) .. " LIMIT 1" } end
    local res = side.conn:many(list, { concurrency = side.concurrency })
    stats.sql = (stats.sql or 0) + #list
    for i, r in ipairs(res) do
      if r.error then
        errs[part[i]] = errors.text(r.error)
      else
        local row = r.rows[1]
        if row then
          out[part[i]] = { version = math.tointeger(tonumber(row.version)) or row.version,
            ts = val(row.timestamp), operation = val(row.operation), parameters = M.decode_params(row.operationParameters) }
        else
          out[part[i]] = { version = -1 }
        end
      end
    end
  end
  return out, errs
end

function M.decode_params(p)
  p = val(p)
  if type(p) == "table" then return p end
  local json = require("json")
  if type(p) == "string" then
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

local function count(t) local n = 0 for _ in pairs(t or {}) do n = n + 1 end return n end

-- Discovery on both sides: the two inventories plan.build diffs. src and dst are connected sides
-- ({ ws=, conn=, host= }); stats counts the calls; progress(text) reports. opts.versions_only
-- (status): tables and versions, no grants or tags.
function M.discover(cfg, src, dst, stats, progress, opts)
  -- both inventories stay live to the end: a short collector pause (util.with_gc_pause)
  return util.with_gc_pause(util.GC_PAUSE, M.discover_sides, cfg, src, dst, stats, progress, opts)
end

function M.discover_sides(cfg, src, dst, stats, progress, opts)
  opts = opts or {}
  local light = opts.versions_only   -- status: tables and versions, no grants or tags
  local src_cats, dst_cats = {}, {}
  for s, d in pairs(cfg.catalogs) do src_cats[#src_cats + 1] = s; dst_cats[#dst_cats + 1] = d end
  table.sort(src_cats); table.sort(dst_cats)
  progress("discover: prod " .. src.host)
  local src_inv = M.read{ ws = src.ws, conn = src.conn, catalogs = src_cats, concurrency = cfg.parallelism, stats = stats,
    grants = not light, tags = not light }
  local counts = {}
  for _, coll in ipairs(kinds.collections) do
    if coll ~= "catalogs" then counts[#counts + 1] = count(src_inv[coll]) .. " " .. coll end
  end
  progress("discover: prod has " .. table.concat(counts, ", "))
  local sum = src.ws:get("/api/2.1/unity-catalog/metastore_summary")
  stats.rest = stats.rest + 1
  src_inv.global_metastore_id = sum and sum.global_metastore_id
  src_inv.shares = M.read_shares(src.ws, cfg.sharing.share_prefix, stats)

  progress("discover: dr " .. dst.host)
  local dst_inv = M.read{ ws = dst.ws, conn = dst.conn, catalogs = dst_cats, concurrency = cfg.parallelism, stats = stats,
    grants = not light, tags = not light, lean = true }
  dst_inv.state, dst_inv.state_exists = M.read_state(dst, cfg.state, stats)
  dst_inv.provider = M.find_provider(dst.ws, src_inv.global_metastore_id, cfg.sharing.provider, stats)

  -- source versions of the Delta tables in scope
  local delta = {}
  for full, t in pairs(src_inv.tables) do
    if (t.table_type == "MANAGED" or t.table_type == "EXTERNAL") and (t.format or "DELTA"):upper() == "DELTA"
      and cfg.catalogs[t.catalog] and config.selected(cfg, full) then
      delta[#delta + 1] = full
    end
  end
  table.sort(delta)
  -- every Delta table's version from its log. The listing's delta.lastUpdateVersion is no
  -- substitute: Unity Catalog moves it only when a commit changes the table's metadata
  -- (docs/replication.md, "Incremental clones")
  local rows = {}
  for _, row in pairs(dst_inv.state or {}) do
    if row.source then rows[row.source] = row end
  end
  local versions, need
  if cfg.version_source == "log" then
    -- the head of each table's Delta log, through credential vending (replicate/deltalog.lua);
    -- DESCRIBE HISTORY for what moved or cannot be probed
    local notes, calls
    versions, need, notes, calls = deltalog.probe(src.ws, src_inv.tables, delta, rows,
      { concurrency = math.max(cfg.parallelism or 8, 32), slice = M.SLICE })
    stats.rest = stats.rest + calls.vend + calls.list
    for _, n in ipairs(notes) do
      src_inv.warnings[#src_inv.warnings + 1] = { object = "versions", reason = n }
      progress("discover: " .. n)
    end
    stats.versions = { log = #delta - #need, history = #need, vend = calls.vend, list = calls.list }
    progress(string.format("discover: %d source Delta version(s) unchanged by their Delta log, %d read with "
      .. "DESCRIBE HISTORY", #delta - #need, #need))
  else
    -- DESCRIBE HISTORY for every one (O(tables), concurrently)
    versions, need = {}, delta
    stats.versions = { stamp = 0, history = #need }
    progress(string.format("discover: %d source Delta version(s) read with DESCRIBE HISTORY", #need))
  end
  local read, verrs = M.read_versions(src, need, stats)
  for full, v in pairs(read) do v.from = "history"; versions[full] = v end
  src_inv.versions = versions
  for full, e in pairs(verrs) do
    src_inv.warnings[#src_inv.warnings + 1] = { object = full, reason = "cannot read its history: " .. e }
  end

  -- replicas without a state row (a run killed between clone and state write): their history
  -- says which source version they reflect
  local orphans = {}
  for _, full in ipairs(delta) do
    local parts = util.split_name(full)
    local tgt = cfg.catalogs[parts[1]] .. "." .. parts[2] .. "." .. parts[3]
    if dst_inv.tables[tgt] and dst_inv.tables[tgt].table_type ~= "VIEW" and not dst_inv.state[tgt] then
      orphans[#orphans + 1] = tgt
    end
  end
  if #orphans > 0 then
    local hist = M.read_versions(dst, orphans, stats)
    dst_inv.clone_history = {}
    for tgt, h in pairs(hist) do
      if h.operation == "CLONE" and h.parameters and h.parameters.sourceVersion ~= nil then
        dst_inv.clone_history[tgt] = { source_version = math.tointeger(tonumber(h.parameters.sourceVersion)) }
      end
    end
  end
  return src_inv, dst_inv
end

return M

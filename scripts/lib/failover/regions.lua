--- The two regions as failover sees them: each one's env file, state store (in its own region),
-- deployment outputs, workspaces and reachability, and the topology record kept in both stores.
-- Every remote call here is bounded (a short timeout, no retries), so an unreachable region is
-- reported within seconds instead of hanging (docs/failover.md, "Timeouts").
local errors = require("errors")
local json = require("json")
local envfile = require("deploy.envfile")
local statefile = require("deploy.statefile")
local topology = require("failover.topology")

local M = {}

M.PROBE_TIMEOUT = 5        -- seconds for a reachability probe
M.CALL_TIMEOUT = 30        -- seconds for any other call made by a failover step
M.LEASE_SECONDS = 15      -- the shortest lease Azure Blob grants: a killed run's expires soon

local Region = {}
Region.__index = Region

--- load(opts) -> { primary = Region, secondary = Region, names = {primary, secondary} }
-- opts: env (a region's name, default "dr"), dir (env files, default "env"), getenv, credential,
-- stores ({[name] = store}, tests), timeout.
function M.load(opts)
  opts = opts or {}
  local first = envfile.load(opts.env or "dr", opts.dir)
  local other = first.peer_env and envfile.load(first.peer, opts.dir)
  if not other then
    errors.raise{ code = "ENV_INVALID", user = true, message = first.file .. ": peer: failover needs the peer "
      .. "environment (both regions' env files)" }
  end
  local prim, sec = first, other
  if first.role ~= "primary" then prim, sec = other, first end
  if prim.role ~= "primary" or sec.role ~= "secondary" then
    errors.raise{ code = "ENV_INVALID", user = true, message = string.format(
      "%s and %s: failover needs one env with role = \"primary\" and one with role = \"secondary\"", first.file, other.file) }
  end
  local set = { names = { prim.name, sec.name }, opts = opts }
  set.primary = M.region(prim, opts)
  set.secondary = M.region(sec, opts)
  set[prim.name], set[sec.name] = set.primary, set.secondary
  return set
end

function M.region(env, opts)
  local r = setmetatable({ name = env.name, env = env, role = env.role, opts = opts }, Region)
  r.getenv = statefile.region_getenv(opts.getenv or os.getenv, env.name)
  return r
end

--- The region's state store (opened once; a failure to open is remembered, not raised twice).
function Region:store()
  if self._store == nil then
    local given = self.opts.stores and self.opts.stores[self.name]
    if given then self._store = given
    else
      local ok, s = pcall(statefile.open_store, self.opts.getenv, self.name)
      self._store = ok and s or false
      self.store_error = not ok and errors.text(s) or nil
    end
  end
  return self._store or nil, self.store_error
end

--- outputs() -> the deployment's outputs ({} when never applied), nil + why when unreadable.
function Region:outputs()
  if self._outputs == nil then
    local store, why = self:store()
    if not store then return nil, why end
    local ok, out = pcall(require("deploy.outputs").read, self.name, { store = store })
    if ok then self._outputs = out else
      self._outputs, self.outputs_error = false, errors.text(out)
      self:note_down(out)
    end
  end
  return self._outputs or nil, self.outputs_error
end

--- workspaces() -> { {spoke, url, workspace_id, catalog, primary = bool}... } sorted by spoke name.
function Region:workspaces()
  local out = self:outputs() or {}
  local list = {}
  for spoke, w in pairs(type(out.workspaces) == "table" and out.workspaces or {}) do
    if type(w) == "table" and type(w.url) == "string" then
      list[#list + 1] = { spoke = spoke, url = w.url, workspace_id = tostring(w.workspace_id or ""), catalog = w.catalog,
        primary = spoke == out.primary_workspace }
    end
  end
  table.sort(list, function(a, b) return a.spoke < b.spoke end)
  return list
end

--- client(url, timeout) -> a databricks workspace client with bounded calls.
function Region:client(url, timeout)
  self._clients = self._clients or {}
  local key = url .. "|" .. tostring(timeout)
  if not self._clients[key] then
    self._clients[key] = require("databricks").workspace{ host = url, credential = self.opts.credential,
      timeout = timeout or M.CALL_TIMEOUT, retries = 1 }
  end
  return self._clients[key]
end

--- probe() -> reachable (bool), detail: one bounded call to every workspace of the region, in parallel.
function Region:probe()
  local ws = self:workspaces()
  if #ws == 0 then
    local _, why = self:outputs()
    self.reachable, self.probe_detail = false, why or "no workspaces in the deployment outputs (deploy first)"
    return false, self.probe_detail
  end
  local failed = {}
  local started = require("http").now()
  local res = require("task").map(ws, function(w)
    local c = self:client(w.url, M.PROBE_TIMEOUT)
    c.retries = 0
    return c:all({ { method = "GET", path = "/api/2.1/unity-catalog/current-metastore-assignment" } })[1]
  end)
  for i, w in ipairs(ws) do
    local r = res[i].ok and res[i].value or { error = res[i].error }
    if r.error then failed[#failed + 1] = w.spoke .. ": " .. errors.text(r.error) end
  end
  self.probe_ms = math.floor((require("http").now() - started) * 1000)
  self.reachable = #failed == 0
  self.probe_detail = #failed == 0 and string.format("%d workspace(s) answer", #ws) or table.concat(failed, "; ")
  return self.reachable, self.probe_detail
end

-- ---- records in the region's store ---------------------------------------------------------------

--- note_down(e): a store that refused the connection (or timed out) is not tried again in this
-- run: every later write to it fails at once (the report says which), instead of retrying.
function Region:note_down(e)
  local code = type(e) == "table" and tostring(e.code) or ""
  if code == "CONNECT_ERROR" or code == "TIMEOUT" then
    self.store_down = errors.text(e)
  end
end

--- read_doc(path) -> decoded JSON | false (absent) | nil, why (store unreachable or corrupt)
function Region:read_doc(path)
  local store, why = self:store()
  if not store then return nil, why end
  if self.store_down then return nil, self.store_down end
  local ok, body, etag = pcall(store.read, store, path)
  if not ok then self:note_down(body); return nil, errors.text(body) end
  if body == nil then return false end
  local dok, doc = pcall(json.decode, body)
  if not dok or type(doc) ~= "table" then return nil, path .. " in " .. self.name .. "'s store is not JSON" end
  return doc, etag
end

--- write_doc(path, doc, opts): replace the document, conditional on the ETag just read (a
-- concurrent writer makes it fail, never interleave). opts.lease: hold the path's lease while
-- writing (the topology record); journals are written by the one run that holds the action.
function Region:write_doc(path, doc, opts)
  local store, why = self:store()
  why = why or self.store_down
  if not store or self.store_down then
    errors.raise{ code = "STORE_UNREACHABLE", message = self.name .. "'s state store does not answer: " .. tostring(why) }
  end
  local lease
  if opts and opts.lease then
    -- a run killed while holding it leaves the lease until it expires (at most LEASE_SECONDS)
    local deadline = require("http").now() + M.LEASE_SECONDS + 5
    while not lease do
      local ok, l = pcall(store.lock, store, path .. ".lock", { duration = M.LEASE_SECONDS })  -- holder: blobstate names this run
      if ok then lease = l
      elseif errors.is(l, "LOCKED") and require("http").now() < deadline then require("http").sleep(1)
      else error(l, 0) end
    end
  end
  local ok, e = pcall(function()
    local _, etag = store:read(path)
    store:write(path, json.encode(doc), etag and { if_match = etag } or { if_none_match = "*" })
  end)
  if lease then pcall(lease.release, lease) end
  if not ok then error(e, 0) end
end

-- ---- the topology across both regions -----------------------------------------------------------

--- topology(set) -> view (failover.topology.merge) with view.records and view.errors per region.
function M.topology(set)
  local records, errs = {}, {}
  for _, name in ipairs(set.names) do
    local rec, why = set[name]:read_doc(topology.PATH)
    if rec == nil then errs[name] = why
    elseif rec and not topology.valid(rec) then
      errs[name] = topology.PATH .. " in " .. name .. "'s store: " .. select(2, topology.valid(rec))
      rec = nil
    end
    records[name] = rec
  end
  local view = topology.merge(records, set.primary.name, set.names)
  view.records, view.errors = records, errs
  return view
end

--- write_topology(set, rec, only) -> { [region] = "written" | error text }: the record into every
-- reachable store (or only the named ones). A store that cannot be written keeps its older
-- record: that region is stale and is fenced before anything runs there again.
function M.write_topology(set, rec, only)
  local res = {}
  for _, name in ipairs(only or set.names) do
    local ok, e = pcall(set[name].write_doc, set[name], topology.PATH, rec, { lease = true })
    res[name] = ok and "written" or errors.text(e)
  end
  return res
end

--- pair(source, target, opts) -> a set of two regions known by name only (the replication run's
-- view: it needs their state stores, not their env files). The primary is the env file's
-- role = "primary" when env/<name>.lua exists, else the source.
function M.pair(source, target, opts)
  opts = opts or {}
  local dir = opts.dir or "env"
  local primary = source
  local f = io.open(dir .. "/" .. target .. ".lua", "r")
  if f then
    f:close()
    local env = envfile.load_file(dir .. "/" .. target .. ".lua")
    if env.role == "primary" then primary = target end
  end
  local set = { names = { primary, primary == source and target or source }, opts = opts }
  for _, n in ipairs({ source, target }) do
    set[n] = M.region({ name = n, role = n == primary and "primary" or "secondary" }, opts)
  end
  set.primary, set.secondary = set[set.names[1]], set[set.names[2]]
  return set
end

--- guard(set, source, target): raises FENCED unless replication source -> target is allowed now.
-- Used by replicate.lua before it writes anything.
function M.guard(set, source, target)
  local view = M.topology(set)
  if view.errors[target] then
    errors.raise{ code = "FENCED", user = true, message = "replication " .. source .. " -> " .. target
      .. " refused: the topology record in " .. target .. "'s state store cannot be read (" .. view.errors[target]
      .. "). Nothing was written." }
  end
  local ok, why = topology.may_replicate(view, source, target)
  if not ok then
    errors.raise{ code = "FENCED", user = true, message = "replication " .. source .. " -> " .. target
      .. " refused: " .. why .. ". Nothing was written. See `drhost scripts/failover.lua status`." }
  end
  return view
end

return M

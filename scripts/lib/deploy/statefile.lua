-- The state file of an environment ("<env>.tfstate"): its store, its lease and its JSON document,
-- through blobstate (Azure Blob with lease + ETags, or local files with DRHOST_STATE=local).
--   {version = 1, serial = N, lineage = uuid, env = "prod",
--    resources = {[addr] = {id, provider, type, api_version, outputs, body_hash, deps = {addr...}}},
--    outputs = {...}}
-- The lease is held for the whole run; every save is conditional on the ETag of the last read or
-- write, so a concurrent writer is detected instead of overwritten. Previous versions are kept by
-- the store (blob versions or numbered local copies).
local err = require("errors")

local M = {}

local State = {}
State.__index = State

local function json() return require("json") end

--- region_getenv(getenv, env_name): getenv for one environment's state store. Each region keeps
-- its state in its own region, so every variable can be given per environment:
-- DRHOST_<ENV>_BLOB_ENDPOINT, DRHOST_<ENV>_STATE_CONTAINER, ... (ENV upper-cased), falling back to
-- the shared DRHOST_BLOB_ENDPOINT, DRHOST_STATE_CONTAINER, ... when unset.
function M.region_getenv(getenv, env_name)
  getenv = getenv or os.getenv
  if not env_name then return getenv end
  local prefix = "DRHOST_" .. tostring(env_name):upper():gsub("[^A-Z0-9]", "_") .. "_"
  return function(name)
    local own = name:match("^DRHOST_(.+)$")
    if own then
      local v = getenv(prefix .. own)
      if v ~= nil and v ~= "" then return v end
    end
    return getenv(name)
  end
end

--- open_store(getenv, env_name): the blobstate store of env_name's state, from the environment
-- (see docs/deploy.md, "State"; per-environment variables as region_getenv says).
function M.open_store(getenv, env_name)
  getenv = M.region_getenv(getenv, env_name)
  local blobstate = require("blobstate")
  local mode = getenv("DRHOST_STATE")
  if mode == "local" then
    return blobstate.open{ path = getenv("DRHOST_STATE_DIR") or ".drhost-state" }, "local"
  end
  local endpoint = getenv("DRHOST_BLOB_ENDPOINT")
  if not endpoint or endpoint == "" then
    err.raise("STATE_BACKEND", "no state backend: set DRHOST_BLOB_ENDPOINT, DRHOST_BLOB_ACCOUNT " ..
      "and DRHOST_BLOB_KEY (blob storage), or DRHOST_STATE=local for a local state directory")
  end
  local container = getenv("DRHOST_STATE_CONTAINER") or "drhost-state"
  local key = getenv("DRHOST_BLOB_KEY")
  if key == nil or key == "" then
    -- no account key (CI with OIDC): an Entra token for Azure Storage from the same credential
    local cred = require("auth").from_env()
    return blobstate.open{ endpoint = endpoint, container = container,
      token = function() return cred:token("https://storage.azure.com/.default") end }, "blob"
  end
  return blobstate.open{ endpoint = endpoint, container = container,
    account = getenv("DRHOST_BLOB_ACCOUNT"), key = key }, "blob"
end

--- new(store, env, opts): a state handle. opts.holder names this run in the lease.
function M.new(store, env, opts)
  opts = opts or {}
  return setmetatable({ store = store, env = env, name = env .. ".tfstate",
    holder = opts.holder or M.default_holder(), lease_duration = opts.lease_duration or 60 }, State)
end

--- default_holder() -> "user@host pid N", followed in a GitHub Actions run by " run <its URL>".
function M.default_holder() return require("blobstate").default_holder() end

function M.empty(env)
  return { version = 1, serial = 0, lineage = require("crypto").uuid4(), env = env, resources = {}, outputs = {} }
end

--- lock(): take the lease for the whole run; LOCKED error (holder, since) when held elsewhere.
function State:lock()
  local ok, lease = pcall(self.store.lock, self.store, self.name,
    { holder = self.holder, duration = self.lease_duration })
  if not ok then
    local e = lease
    if type(e) == "table" and e.code == "LOCKED" then
      local expiry = e.expires_in and ("; if that run is gone, its lease expires within " .. e.expires_in ..
        " s, or `force-unlock` breaks it now") or "; `force-unlock` only if that run is gone"
      err.raise("LOCKED", "state " .. self.name .. " is locked by " .. tostring(e.holder) ..
        " since " .. tostring(e.since) .. " (another run is in progress" .. expiry .. ")",
        { holder = e.holder, since = e.since, expires_in = e.expires_in })
    end
    error(e, 0)
  end
  self.lease = lease
  return lease
end

function State:unlock()
  if self.lease then
    local l = self.lease
    self.lease = nil
    pcall(l.release, l)
  end
end

function State:force_unlock()
  return self.store:break_lock(self.name)
end

--- load(): the document (an empty one when absent).
function State:load()
  local body, etag = self.store:read(self.name)
  if body == nil then
    self.etag = nil
    self.doc = M.empty(self.env)
    return self.doc
  end
  local ok, doc = pcall(json().decode, body)
  if not ok or type(doc) ~= "table" or type(doc.resources) ~= "table" then
    err.raise("STATE_CORRUPT", "state " .. self.name .. " is not a drhost state document")
  end
  if doc.env and doc.env ~= self.env then
    err.raise("STATE_MISMATCH", "state " .. self.name .. " belongs to env " .. tostring(doc.env))
  end
  self.etag = etag
  self.doc = doc
  return doc
end

--- save(): write the document with serial + 1, conditional on the last ETag.
function State:save()
  local doc = self.doc
  doc.serial = (doc.serial or 0) + 1
  local j = json()
  j.object(doc.resources)
  j.object(doc.outputs)
  local body = j.encode(doc)
  local cond = self.etag and { if_match = self.etag } or { if_none_match = "*" }
  local ok, etag = pcall(self.store.write, self.store, self.name, body, cond)
  if not ok then
    doc.serial = doc.serial - 1
    local e = etag
    if type(e) == "table" and e.code == "CONDITION_NOT_MET" then
      err.raise("STATE_CONFLICT", "state " .. self.name .. " changed under this run " ..
        "(ETag mismatch); nothing was overwritten", { status = 412 })
    end
    error(e, 0)
  end
  self.etag = etag
  return doc.serial
end

--- put(addr, entry) / remove(addr): change one resource and save at once.
function State:put(addr, entry)
  self.doc.resources[addr] = entry
  return self:save()
end

function State:remove(addr)
  self.doc.resources[addr] = nil
  return self:save()
end

function State:versions()
  return self.store:versions(self.name)
end

--- memory_store(): an in-process store with the blobstate shape (tests, dry runs).
function M.memory_store()
  local s = { blobs = {}, locks = {}, history = {}, n = 0 }
  function s.read(self, name)
    local b = self.blobs[name]
    if not b then return nil end
    return b.body, b.etag
  end
  function s.write(self, name, body, cond)
    cond = cond or {}
    local cur = self.blobs[name]
    if cond.if_none_match == "*" and cur then
      error(err.new{ code = "CONDITION_NOT_MET", status = 412, message = "blob exists" }, 0)
    end
    if cond.if_match and (not cur or cur.etag ~= cond.if_match) then
      error(err.new{ code = "CONDITION_NOT_MET", status = 412, message = "etag mismatch" }, 0)
    end
    if cur then
      self.history[name] = self.history[name] or {}
      table.insert(self.history[name], cur)
    end
    self.n = self.n + 1
    local etag = "\"e" .. self.n .. "\""
    self.blobs[name] = { body = body, etag = etag }
    return etag
  end
  function s.lock(self, name, o)
    local l = self.locks[name]
    if l then
      error(err.new{ code = "LOCKED", message = "locked", holder = l.holder, since = l.since }, 0)
    end
    self.locks[name] = { holder = o and o.holder or "?", since = os.date("!%Y-%m-%dT%H:%M:%SZ") }
    local store = self
    return { release = function() store.locks[name] = nil end }
  end
  function s.break_lock(self, name) self.locks[name] = nil; return true end
  function s.versions(self, name) return self.history[name] or {} end
  return s
end

return M

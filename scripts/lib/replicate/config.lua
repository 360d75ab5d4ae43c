-- luacheck: max line length 160
-- The replication configuration (env/dr.replication.lua, named by env/dr.lua's `replication` key):
-- loading, defaults and validation. Every error names the file, the key and what was expected.
local errors = require("errors")
local util = require("replicate.util")

local M = {}

M.defaults = {
  parallelism = 8,
  include = { "*" },
  exclude = {},
  storage = {},
  protected_principals = {},
  principals = { map = {}, unmapped = "keep_names" },
  -- the recipient in prod for dr's metastore: the deployment creates it under this name
  -- (scripts/lib/deploy/components/replication.lua takes these sharing defaults from here)
  sharing = { recipient = "drhost_dr", share_prefix = "drhost_dr", catalog_prefix = "drhost_src", provider = nil,
              max_tables = 1000, max_schemas = 500, batch = 100 },
  state = { catalog = "drhost_ops", schema = "drhost", table = "replication_state", managed_location = nil },
  prune = false,
  prune_max_fraction = 0.1,
  protected_tables = "skip",
  clone_strategy = "incremental",
  version_source = "history",
  hooks = {},
}

-- Catalogs that are never replicated, whatever the configuration says.
M.never_catalogs = { system = true, hive_metastore = true, __databricks_internal = true, samples = true }

-- A CONFIG_INVALID user error naming the file, the key and what was expected.
local function fail(file, key, expected, got)
  errors.raise("CONFIG_INVALID", string.format("%s: `%s` %s%s", file, key, expected,
      got ~= nil and (" (got " .. got .. ")") or ""),
    { file = file, key = key, details = { file = file, key = key } }, 2)
end

local function describe(v)
  if type(v) == "string" then return string.format("%q", v) end
  return type(v) == "table" and "a table" or (type(v) .. " " .. tostring(v))
end

local known_top = { "source", "target", "catalogs", "include", "exclude", "storage", "parallelism",
  "protected_principals", "principals", "sharing", "state", "prune", "prune_max_fraction",
  "protected_tables", "clone_strategy", "version_source", "hooks" }

local function check_keys(file, prefix, t, known)
  local ok = util.set(known)
  for k in pairs(t) do
    if not ok[k] then
      fail(file, prefix .. tostring(k), "is not a known key; expected one of: " .. table.concat(known, ", "))
    end
  end
end

local function check_string_list(file, key, v)
  if type(v) ~= "table" then fail(file, key, "must be a list of strings", describe(v)) end
  for i, s in ipairs(v) do
    if type(s) ~= "string" or s == "" then fail(file, key .. "[" .. i .. "]", "must be a non-empty string", describe(s)) end
  end
  for k in pairs(v) do
    if type(k) ~= "number" then fail(file, key, "must be a list (array), not a map", "key " .. describe(k)) end
  end
end

local name_pat = "^[%w_%-]+$"

local function check_endpoint(file, key, v)
  if v == nil then return end
  if type(v) ~= "table" then fail(file, key, "must be a table { env=, host=, warehouse_id= }", describe(v)) end
  check_keys(file, key .. ".", v, { "env", "host", "warehouse_id", "outputs" })
  for _, f in ipairs({ "env", "host", "warehouse_id", "outputs" }) do
    if v[f] ~= nil and type(v[f]) ~= "string" then fail(file, key .. "." .. f, "must be a string", describe(v[f])) end
  end
  if v.host and not v.host:match("^https://") then fail(file, key .. ".host", "must start with https://", describe(v.host)) end
end

-- Validate a raw table; returns the merged configuration (defaults filled in).
function M.validate(raw, file)
  file = file or "replication config"
  if type(raw) ~= "table" then fail(file, "(file)", "must return a table", describe(raw)) end
  check_keys(file, "", raw, known_top)
  local cfg = util.copy(M.defaults)
  check_endpoint(file, "source", raw.source)
  check_endpoint(file, "target", raw.target)
  cfg.source = util.copy(raw.source or { env = "prod" })
  cfg.target = util.copy(raw.target or { env = "dr" })

  -- catalogs: { source_name = target_name }
  if type(raw.catalogs) ~= "table" or next(raw.catalogs) == nil then
    fail(file, "catalogs", "must be a non-empty map { source_catalog = \"target_catalog\" }", describe(raw.catalogs))
  end
  cfg.catalogs = {}
  local targets = {}
  for src, dst in pairs(raw.catalogs) do
    if type(src) ~= "string" then
      fail(file, "catalogs", "must be a map keyed by source catalog name, not a list", "key " .. describe(src))
    end
    if not src:match(name_pat) then fail(file, "catalogs." .. src, "key must be a catalog name (letters, digits, _ or -)") end
    if type(dst) ~= "string" or not dst:match(name_pat) then
      fail(file, "catalogs." .. src, "must be the target catalog name (letters, digits, _ or -)", describe(dst))
    end
    if M.never_catalogs[src:lower()] then
      fail(file, "catalogs." .. src, "names a catalog that is never replicated (system, internal or hive_metastore)")
    end
    if targets[dst:lower()] then
      fail(file, "catalogs." .. src, "maps to " .. dst .. ", which catalogs." .. targets[dst:lower()] .. " already maps to")
    end
    targets[dst:lower()] = src
    cfg.catalogs[src:lower()] = dst:lower()
  end

  for _, key in ipairs({ "include", "exclude", "protected_principals" }) do
    if raw[key] ~= nil then check_string_list(file, key, raw[key]); cfg[key] = util.copy(raw[key]) end
  end

  if raw.storage ~= nil then
    if type(raw.storage) ~= "table" then fail(file, "storage", "must be a map { [source_url_prefix] = target_url_prefix }", describe(raw.storage)) end
    local seen = {}   -- source prefix without trailing slashes -> the key naming it
    for _, src in ipairs(util.sorted_keys(raw.storage)) do
      local dst = raw.storage[src]
      if type(src) ~= "string" or not src:match("^%a[%w+.-]*://") then
        fail(file, "storage", "keys must be URL prefixes like abfss://container@account.dfs.core.windows.net/path", describe(src))
      end
      if type(dst) ~= "string" or not dst:match("^%a[%w+.-]*://") then
        fail(file, "storage[" .. src .. "]", "must be a target URL prefix", describe(dst))
      end
      local norm = src:gsub("/+$", "")
      local other = seen[norm]
      if other and raw.storage[other]:gsub("/+$", "") ~= dst:gsub("/+$", "") then
        fail(file, "storage[" .. src .. "]", "names the same source prefix as storage[" .. other .. "] (they differ only by a "
          .. "trailing slash) but maps it elsewhere: keep one of them", describe(dst) .. " vs " .. describe(raw.storage[other]))
      end
      seen[norm] = seen[norm] or src
    end
    cfg.storage = util.copy(raw.storage)
  end

  if raw.parallelism ~= nil then
    if math.type(raw.parallelism) ~= "integer" or raw.parallelism < 1 or raw.parallelism > 64 then
      fail(file, "parallelism", "must be an integer from 1 to 64", describe(raw.parallelism))
    end
    cfg.parallelism = raw.parallelism
  end

  if raw.principals ~= nil then
    local p = raw.principals
    if type(p) ~= "table" then fail(file, "principals", "must be a table { map = {...}, unmapped = ... }", describe(p)) end
    check_keys(file, "principals.", p, { "map", "unmapped" })
    if p.map ~= nil then
      if type(p.map) ~= "table" then fail(file, "principals.map", "must be a map { [source_principal] = target_principal | false }", describe(p.map)) end
      for k, v in pairs(p.map) do
        if type(k) ~= "string" then fail(file, "principals.map", "keys must be principal names or application ids", describe(k)) end
        if not (type(v) == "string" and v ~= "") and v ~= false then
          fail(file, "principals.map[" .. k .. "]", "must be the target principal (string) or false to drop it", describe(v))
        end
      end
    end
    local modes = { keep_names = true, keep = true, skip = true }
    if p.unmapped ~= nil and not modes[p.unmapped] then
      fail(file, "principals.unmapped", "must be one of \"keep_names\", \"keep\", \"skip\"", describe(p.unmapped))
    end
    cfg.principals = { map = util.copy(p.map or {}), unmapped = p.unmapped or "keep_names" }
  end

  if raw.sharing ~= nil then
    local s = raw.sharing
    if type(s) ~= "table" then fail(file, "sharing", "must be a table", describe(s)) end
    check_keys(file, "sharing.", s, { "recipient", "share_prefix", "catalog_prefix", "provider", "max_tables", "max_schemas", "batch" })
    for _, k in ipairs({ "recipient", "share_prefix", "catalog_prefix", "provider" }) do
      if s[k] ~= nil then
        if type(s[k]) ~= "string" or not s[k]:match(name_pat) then fail(file, "sharing." .. k, "must be a name (letters, digits, _ or -)", describe(s[k])) end
        cfg.sharing[k] = s[k]
      end
    end
    for k, max in pairs({ max_tables = 1000, max_schemas = 500, batch = 1000 }) do
      if s[k] ~= nil then
        if math.type(s[k]) ~= "integer" or s[k] < 1 or s[k] > max then
          fail(file, "sharing." .. k, "must be an integer from 1 to " .. max, describe(s[k]))
        end
        cfg.sharing[k] = s[k]
      end
    end
  end

  if raw.state ~= nil then
    local s = raw.state
    if type(s) ~= "table" then fail(file, "state", "must be a table { catalog=, schema=, table= }", describe(s)) end
    check_keys(file, "state.", s, { "catalog", "schema", "table", "managed_location" })
    for _, k in ipairs({ "catalog", "schema", "table" }) do
      if s[k] ~= nil then
        if type(s[k]) ~= "string" or not s[k]:match("^[%w_]+$") then fail(file, "state." .. k, "must be a name (letters, digits, _)", describe(s[k])) end
        cfg.state[k] = s[k]:lower()
      end
    end
    if s.managed_location ~= nil and type(s.managed_location) ~= "string" then
      fail(file, "state.managed_location", "must be a URL string", describe(s.managed_location))
    end
    cfg.state.managed_location = s.managed_location
  end
  if cfg.catalogs[cfg.state.catalog] or targets[cfg.state.catalog] then
    fail(file, "state.catalog", "must not be a replicated catalog (source or target)", describe(cfg.state.catalog))
  end

  if raw.prune ~= nil then
    if type(raw.prune) ~= "boolean" then fail(file, "prune", "must be true or false", describe(raw.prune)) end
    cfg.prune = raw.prune
  end
  if raw.prune_max_fraction ~= nil then
    local f = raw.prune_max_fraction
    if type(f) ~= "number" or f < 0 or f > 1 then fail(file, "prune_max_fraction", "must be a number from 0 to 1", describe(f)) end
    cfg.prune_max_fraction = f
  end
  if raw.protected_tables ~= nil then
    if raw.protected_tables ~= "skip" and raw.protected_tables ~= "metadata_only" then
      fail(file, "protected_tables", "must be \"skip\" or \"metadata_only\" "
        .. "(tables with a row filter or column mask are never data-copied)", describe(raw.protected_tables))
    end
    cfg.protected_tables = raw.protected_tables
  end

  if raw.clone_strategy ~= nil then
    if raw.clone_strategy ~= "incremental" and raw.clone_strategy ~= "always" then
      fail(file, "clone_strategy", "must be \"incremental\" (clone when the source version moved) or \"always\" "
        .. "(re-clone every table every run: the baseline the bench compares against)", describe(raw.clone_strategy))
    end
    cfg.clone_strategy = raw.clone_strategy
  end

  if raw.version_source ~= nil then
    if raw.version_source ~= "auto" and raw.version_source ~= "history" then
      fail(file, "version_source", "must be \"auto\" (managed Delta tables: the version UC returns in the table listing; "
        .. "others: DESCRIBE HISTORY) or \"history\" (DESCRIBE HISTORY for every Delta table)", describe(raw.version_source))
    end
    cfg.version_source = raw.version_source
  end

  if raw.hooks ~= nil then
    if type(raw.hooks) ~= "table" then fail(file, "hooks", "must be a table { filter=, policy=, rename= } of functions", describe(raw.hooks)) end
    check_keys(file, "hooks.", raw.hooks, { "filter", "policy", "rename" })
    for k, v in pairs(raw.hooks) do
      if type(v) ~= "function" then fail(file, "hooks." .. k, "must be a function", describe(v)) end
    end
    cfg.hooks = raw.hooks
  end
  cfg.file = file
  return cfg
end

-- What a replication config file (and the hooks it defines) may use: the basics, os.getenv, and
-- a print that writes to the log.
function M.sandbox(path)
  local log = require("log")
  local env = { os = { getenv = os.getenv } }
  for _, name in ipairs({ "type", "error", "assert", "pairs", "ipairs", "next", "select", "tostring", "tonumber",
    "string", "table", "math", "utf8" }) do env[name] = _G[name] end
  env.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    log.info(table.concat(parts, "\t"), { file = path })
  end
  return env
end

-- Load a config file (a Lua chunk returning a table) in the sandbox, through the one loader of
-- env and config files (modules/loader.lua).
function M.load(path)
  local raw = require("loader").run(path, { globals = M.sandbox(path), what = "replication config",
    not_found_code = "CONFIG_NOT_FOUND", syntax_code = "CONFIG_SYNTAX", run_code = "CONFIG_ERROR" })
  return M.validate(raw, path)
end

-- Every configured source catalog must exist in prod (as discovered): a missing one is a
-- configuration error, raised before anything is planned or written.
function M.check_catalogs(cfg, src_catalogs)
  local missing = {}
  for _, name in ipairs(util.sorted_keys(cfg.catalogs)) do
    if not src_catalogs[name] then missing[#missing + 1] = name end
  end
  if #missing == 0 then return end
  local have = {}
  for _, name in ipairs(util.sorted_keys(src_catalogs)) do
    if not M.never_catalogs[name] then have[#have + 1] = name end
  end
  errors.raise({ code = "CONFIG_INVALID", details = { file = cfg.file, key = "catalogs." .. missing[1] },
    message = string.format("%s: `catalogs.%s` names a catalog prod does not have (or an ISOLATED one not bound to the "
      .. "replication workspace); prod has: %s", tostring(cfg.file), table.concat(missing, "`, `catalogs."),
      #have > 0 and table.concat(have, ", ") or "(none)") }, 2)
end

-- Include/exclude patterns apply to source full names (catalog.schema.object); an object is kept
-- when it matches an include (or a prefix form: "cat" matches "cat.*") and no exclude.
function M.selected(cfg, full_name)
  local function matches(glob)
    if util.glob_match(glob, full_name) then return true end
    local n = select(2, glob:gsub("%.", "")) + 1
    local parts = util.split_name(full_name)
    if n < #parts then
      return util.glob_match(glob, table.concat(parts, ".", 1, n))
    end
    return false
  end
  local inc = false
  for _, g in ipairs(cfg.include) do if matches(g) then inc = true; break end end
  if not inc then return false end
  for _, g in ipairs(cfg.exclude) do if matches(g) then return false end end
  return true
end

return M

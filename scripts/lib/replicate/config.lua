-- The replication configuration (env/dr.replication.lua, named by env/dr.lua's `replication` key):
-- its schema, defaults and the checks beyond types, loaded through the one loader for env and
-- config files (modules/loader.lua). Every error names the file, the key's path and what was
-- expected; an unknown key at any level is an error naming its path.
local errors = require("errors")
local util = require("replicate.util")
local loader = require("loader")

local M = {}

-- The defaults, in one place (the deployment takes its sharing names from here too).
M.defaults = {
  source = { env = "prod" },
  target = { env = "dr" },
  parallelism = 8,
  include = { "*" },
  exclude = {},
  storage = {},
  protected_principals = {},
  principals = { map = {}, unmapped = "keep_names" },
  -- the recipient in prod for dr's metastore: the deployment creates it under this name
  sharing = { recipient = "drhost_dr", share_prefix = "drhost_dr", catalog_prefix = "drhost_src", provider = nil,
              max_tables = 1000, max_schemas = 500, batch = 100 },
  state = { catalog = "drhost_ops", schema = "drhost", table = "replication_state", managed_location = nil },
  prune = false,
  prune_max_fraction = 0.1,
  protected_tables = "skip",
  clone_strategy = "incremental",
  version_source = "log",
  hooks = {},
}
local D = M.defaults

-- Catalogs that are never replicated, whatever the configuration says.
M.never_catalogs = { system = true, hive_metastore = true, __databricks_internal = true, samples = true }

local S = loader.schema
local NAME = "^[%w_%-]+$"
local function a_name(default)
  return S.string{ pattern = NAME, what = "a name (letters, digits, _ or -)", default = default }
end
local function sql_name(default) return S.string{ pattern = "^[%w_]+$", what = "a name (letters, digits, _)", default = default } end
local url = S.string{ pattern = "^%a[%w+.-]*://", what = "a URL prefix like abfss://container@account.dfs.core.windows.net/path" }
local strings = function(default) return S.list(S.string{ nonempty = true, what = "a non-empty string" }, { default = default }) end
local endpoint = function(default)
  return S.record({ env = S.string{}, host = S.string{ pattern = "^https://", what = "a URL starting with https://" },
    warehouse_id = S.string{}, outputs = S.string{ what = "the path of an outputs JSON file" } }, { default = default })
end
local principal = { what = "the target principal (a non-empty string) or false to drop it" }
function principal.check(v, path, add)
  if not ((type(v) == "string" and v ~= "") or v == false) then add(path, principal.what, v) end
end
local function enum(default, what, ...)
  local o = { ... }
  o.default, o.what = default, what
  return S.enum(o)
end

-- The schema of env/dr.replication.lua (docs/replication.md, "Configuration").
M.schema = S.record{
  source = endpoint(D.source), target = endpoint(D.target),
  catalogs = S.map(S.string{ pattern = NAME, what = "the target catalog name (letters, digits, _ or -)" },
    { key = S.string{ pattern = NAME, what = "a source catalog name (letters, digits, _ or -)" }, min = 1, required = true,
      what = "a non-empty map { source_catalog = \"target_catalog\" }" }),
  include = strings(D.include), exclude = strings(D.exclude), protected_principals = strings(D.protected_principals),
  storage = S.map(url, { key = url, default = D.storage, what = "a map { [source URL prefix] = target URL prefix }" }),
  parallelism = S.integer{ min = 1, max = 64, default = D.parallelism },
  principals = S.record({ map = S.map(principal, { key = S.string{ nonempty = true, what = "a principal name or application id" },
      default = D.principals.map }),
    unmapped = enum(D.principals.unmapped, nil, "keep_names", "keep", "skip") }, { default = {} }),
  sharing = S.record({ recipient = a_name(D.sharing.recipient), share_prefix = a_name(D.sharing.share_prefix),
    catalog_prefix = a_name(D.sharing.catalog_prefix), provider = a_name(D.sharing.provider),
    max_tables = S.integer{ min = 1, max = 1000, default = D.sharing.max_tables },
    max_schemas = S.integer{ min = 1, max = 500, default = D.sharing.max_schemas },
    batch = S.integer{ min = 1, max = 1000, default = D.sharing.batch } }, { default = {} }),
  state = S.record({ catalog = sql_name(D.state.catalog), schema = sql_name(D.state.schema), table = sql_name(D.state.table),
    managed_location = S.string{ what = "a URL string" } }, { default = {} }),
  prune = S.boolean{ default = D.prune },
  prune_max_fraction = S.number{ min = 0, max = 1, what = "a number from 0 to 1", default = D.prune_max_fraction },
  protected_tables = enum(D.protected_tables, "\"skip\" or \"metadata_only\" (tables with a row filter or column mask "
    .. "are never data-copied)", "skip", "metadata_only"),
  clone_strategy = enum(D.clone_strategy, "\"incremental\" (clone when the source version moved) or \"always\" "
    .. "(re-clone every table every run: the baseline the bench compares against)", "incremental", "always"),
  -- "auto" (versions from the listing's delta.lastUpdateVersion) was removed: Unity Catalog moves that
  -- stamp only on metadata changes, so it skipped tables whose data had moved
  version_source = enum(D.version_source, "\"log\" (the head of each cloned table's Delta log through credential "
    .. "vending; DESCRIBE HISTORY for tables that moved or cannot be probed) or \"history\" (DESCRIBE HISTORY for "
    .. "every Delta table; \"auto\" was removed: the listing's version stamp moves on metadata changes only)",
    "log", "history"),
  hooks = S.record({ filter = S.func{}, policy = S.func{}, rename = S.func{} }, { default = D.hooks }),
}

-- A problem the schema cannot express, in the loader's words (file: path: expected ..., got ...).
local function fail(file, path, expected, got)
  loader.raise_problems({ { path = path, text = string.format("%s: %s: expected %s, got %s", file, path, expected, got) } }, file)
end

-- Validate a raw table against the schema and the rules between keys; returns the configuration
-- with defaults filled in (names lower-cased as Unity Catalog stores them).
function M.validate(raw, file)
  file = file or "replication config"
  if type(raw) ~= "table" then fail(file, "(file)", "the file to return a table", loader.describe(raw)) end
  local cfg = loader.check(util.copy(raw), M.schema, file)
  cfg.hooks = raw.hooks or {}
  local catalogs, targets = {}, {}
  for _, src in ipairs(util.sorted_keys(cfg.catalogs)) do
    local dst = cfg.catalogs[src]
    local path = loader.key_path("catalogs", src)
    if M.never_catalogs[src:lower()] then
      fail(file, path, "a catalog that may be replicated (system, internal and hive_metastore never are)", "string \"" .. src .. "\"")
    end
    if targets[dst:lower()] then
      fail(file, path, "a target no other catalog maps to", "\"" .. dst .. "\", which " .. loader.key_path("catalogs", targets[dst:lower()])
        .. " already maps to")
    end
    targets[dst:lower()] = src
    catalogs[src:lower()] = dst:lower()
  end
  cfg.catalogs = catalogs
  local seen = {}   -- source prefix without trailing slashes -> the key naming it
  for _, src in ipairs(util.sorted_keys(cfg.storage)) do
    local norm = src:gsub("/+$", "")
    local other = seen[norm]
    if other and cfg.storage[other]:gsub("/+$", "") ~= cfg.storage[src]:gsub("/+$", "") then
      fail(file, loader.key_path("storage", src), "the same target as " .. loader.key_path("storage", other)
        .. " (the two keys differ only by a trailing slash: keep one)", string.format("%q vs %q", cfg.storage[src], cfg.storage[other]))
    end
    seen[norm] = seen[norm] or src
  end
  for _, k in ipairs({ "catalog", "schema", "table" }) do cfg.state[k] = cfg.state[k]:lower() end
  if cfg.catalogs[cfg.state.catalog] or targets[cfg.state.catalog] then
    fail(file, "state.catalog", "a catalog that is not replicated (neither source nor target)", string.format("%q", cfg.state.catalog))
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

-- Load a config file (a Lua chunk returning a table) in the sandbox, through the one loader.
function M.load(path)
  local raw = loader.run(path, { globals = M.sandbox(path), what = "replication config",
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

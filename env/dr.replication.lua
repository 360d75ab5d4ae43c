-- Replication prod -> dr: what to copy and how (named by env/dr.lua as `replication`).
-- Plain Lua, validated by scripts/lib/replicate/config.lua (docs/replication.md is the reference).
-- Ids and URLs that differ per installation come from the environment, never from this file.
local prod_ext = os.getenv("DRHOST_PROD_EXTERNAL_URL") or "abfss://external@drhostprodext.dfs.core.windows.net/"
local dr_ext = os.getenv("DRHOST_DR_EXTERNAL_URL") or "abfss://external@drhostdrext.dfs.core.windows.net/"

local catalogs = {}
for name in (os.getenv("DRHOST_REPLICATE_CATALOGS") or "sales,finance"):gmatch("[^,%s]+") do catalogs[name] = name end

local protected = { "drhost-replication", "drhost-admins", "dr-breakglass" }
for _, k in ipairs({ "DRHOST_REPLICATION_SP_APP_ID", "AZURE_CLIENT_ID" }) do
  local id = os.getenv(k)
  if id and id ~= "" and id ~= protected[#protected] then protected[#protected + 1] = id end
end

local principal_map = {}
-- The replication/ETL service principal has a different application id in each region.
local prod_sp, dr_sp = os.getenv("DRHOST_PROD_ETL_SP"), os.getenv("DRHOST_DR_ETL_SP")
if prod_sp and dr_sp then principal_map[prod_sp] = dr_sp end

return {
  -- Where the workspaces are: see docs/replication.md "Finding the workspaces" (env vars, then
  -- these fields, then the deployment's outputs of the named environment).
  source = { env = "prod" },
  target = { env = "dr" },

  -- source catalog = target catalog (same names keep jobs and queries working after failover);
  -- DRHOST_REPLICATE_CATALOGS="a,b" overrides the list (the demo uses its own catalogs). The
  -- replication workspace must be bound to ISOLATED catalogs (read in prod, read-write in dr).
  catalogs = catalogs,
  include = { "*" },
  exclude = { "*.scratch", "*.*.tmp_*" },

  storage = { [prod_ext] = dr_ext },

  parallelism = 8,
  -- never revoked in dr: the job's identity (by name, and by the application id it runs as: the
  -- deployment grants it EXTERNAL USE SCHEMA on dr's catalogs for failback), the platform admins
  -- (deployment), break-glass
  protected_principals = protected,
  principals = { map = principal_map, unmapped = "keep_names" },

  sharing = { recipient = os.getenv("DRHOST_RECIPIENT"), share_prefix = "drhost_dr", catalog_prefix = "drhost_src",
              max_tables = 1000, max_schemas = 500, batch = 100 },
  -- managed location for the state catalog: needed when dr's metastore has no storage root
  state = { catalog = "drhost_ops", schema = "drhost", table = "replication_state",
            managed_location = dr_ext .. "drhost_ops" },

  prune = false,
  prune_max_fraction = 0.1,
  protected_tables = "skip",
  -- "log" (the default): a cloned table's version from the head of its Delta log (credential
  -- vending + one listing; DESCRIBE HISTORY only for what moved), needing the grants the
  -- deployment makes; "history": DESCRIBE HISTORY for every Delta table (one statement per table)
  -- (docs/replication.md, "Versions from the Delta log head")
  version_source = "log",

  -- Hooks see a copy of each object in scope ({ kind, full, name, catalog, schema, tags, owner,
  -- comment, ...}; kind is catalog, schema, table, view, function or volume) and run in this
  -- file's sandbox (print goes to the log). docs/replication.md, "Hooks".
  hooks = {
    -- filter = function(obj) return not obj.name:match("^tmp_") end,
    -- policy = function(obj) return obj.kind == "table" and obj.tags.dr == "schema_only" and "metadata_only" or nil end,
    -- rename = function(obj) return nil end,   -- tables, views, functions, volumes: a new name in dr
  },
}

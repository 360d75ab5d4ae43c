--- The deployment's outputs, read in-process from an environment's state: the same table that
-- `drhost scripts/deploy.lua ENV output` prints (docs/deploy.md, "Outputs"). This is the interface
-- replication and failover read a region's workspaces, warehouse and sharing names through.
--
--   local outputs = require("deploy.outputs").read("prod")    -- {} when prod was never applied
--   outputs.workspace_url, outputs.warehouse_id, outputs.sharing.recipient, ...
local statefile = require("deploy.statefile")

local M = {}

--- read(env_name, opts) -> outputs table. opts.store: a state store (default: the one named by
-- DRHOST_STATE / DRHOST_BLOB_*, as for deploy.lua); opts.getenv for that choice (per-environment
-- variables first, statefile.region_getenv). Reads without taking the lease. Raises
-- STATE_BACKEND / STATE_CORRUPT / STATE_MISMATCH when the state cannot be read; an environment
-- never applied has no outputs ({}).
function M.read(env_name, opts)
  opts = opts or {}
  local store = opts.store or statefile.open_store(opts.getenv, env_name)
  local doc = statefile.new(store, env_name):load()
  return doc.outputs or {}
end

return M

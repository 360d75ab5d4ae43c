-- Test helper for the cloud-module integration specs (not a spec itself): a Databricks workspace
-- in the simulator built the way the deployment does it, through the modules under test: a
-- resource group and a workspace through ARM, a metastore for the region and its assignment
-- through the account API, a SQL warehouse through the workspace API.
--   local estate = dofile("spec/integration/cloud_estate.lua")
--   local w = estate.workspace("h3-a", "westeurope")   --> { host=, id=, ws=, cred=, arm_id= }
--   local wh = estate.warehouse(w.ws)
local auth = require("auth")
local azure = require("azure")
local databricks = require("databricks")

local M = {}

local function env(k)
  local v = os.getenv(k)
  assert(v and v ~= "", k .. " is not set (run under tools/with-sim.sh)")
  return v
end

function M.credential()
  M.cred = M.cred or auth.from_env()
  return M.cred
end

function M.arm()
  M.arm_client = M.arm_client or azure.client{ credential = M.credential() }
  return M.arm_client
end

function M.account()
  M.acct = M.acct or databricks.account{ host = env("DATABRICKS_ACCOUNT_HOST"),
                                         account_id = env("DATABRICKS_ACCOUNT_ID"), credential = M.credential() }
  return M.acct
end

local built = {}

function M.workspace(name, region)
  if built[name] then return built[name] end
  local arm = M.arm()
  local rg = arm:subscription_path("/resourceGroups/rg-" .. name)
  arm:put(rg, "2021-04-01", { location = region })
  local arm_id = rg .. "/providers/Microsoft.Databricks/workspaces/dbw-" .. name
  local w = arm:put(arm_id, "2024-05-01", { location = region, sku = { name = "premium" },
    properties = { managedResourceGroupId = arm:subscription_path("/resourceGroups/rg-" .. name .. "-managed") } })
  local id = tostring(w.properties.workspaceId)
  local acct = M.account()
  local ms
  for _, m in ipairs(acct:list("/metastores", nil, "metastores")) do
    if m.region == region then ms = m end
  end
  if not ms then
    ms = acct:post("/metastores", { metastore_info = { name = "ms-" .. region, region = region,
      storage_root = "abfss://metastore@h3" .. region .. ".dfs.core.windows.net/" } }).metastore_info
  end
  local r = acct:all({ { method = "POST", path = "/workspaces/" .. id .. "/metastores/" .. ms.metastore_id,
                         body = { metastore_assignment = { default_catalog_name = "main" } } } })[1]
  if r.error and r.status ~= 409 then error(r.error, 0) end
  local host = "https://" .. w.properties.workspaceUrl
  built[name] = { host = host, id = id, arm_id = arm_id, metastore_id = ms.metastore_id, cred = M.credential(),
                  ws = databricks.workspace{ host = host, credential = M.credential() } }
  return built[name]
end

function M.warehouse(ws)
  local list = ws:list("/api/2.0/sql/warehouses", nil, "warehouses")
  if list[1] then return list[1].id end
  return ws:post("/api/2.0/sql/warehouses", { name = "h3-spec", cluster_size = "2X-Small", max_num_clusters = 1,
    auto_stop_mins = 10, enable_serverless_compute = true, warehouse_type = "PRO" }).id
end

return M

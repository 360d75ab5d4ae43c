-- The text plan: security-relevant properties of a body are shown however long the body is;
-- --verbose shows every property.
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
if not pcall(require, "json") then package.preload.json = function() return require("cjson") end end

local envm = require("deploy.envfile")
local estate = require("deploy.compose")
local engine = require("deploy.engine")
local render = require("deploy.render")

local VARS = {
  AZURE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001",
  AZURE_TENANT_ID = "00000000-0000-0000-0000-000000000002",
  DRHOST_DATABRICKS_SP_OBJECT_ID = "00000000-0000-0000-0000-0000000000db",
  DRHOST_REPLICATION_SP_APP_ID = "00000000-0000-0000-0000-0000000000aa",
}

-- a plan creating prod's first workspace, its body as the deployment declares it
local function workspace_plan()
  local s = estate.build(envm.load("prod"), { getenv = function(n) return VARS[n] end })
  local ws
  for _, r in ipairs(s.resources) do
    if r.type == "Microsoft.Databricks/workspaces" and r.addr:match("^spoke") then ws = r; break end
  end
  assert.is_not_nil(ws)
  local rr = engine.resolve(ws, function() return nil end)
  return { env = "prod", changes = 1, errors = 0, summary = { create = 1, update = 0, replace = 0, delete = 0,
    adopt = 0, noop = 0 }, actions = { { addr = ws.addr, action = "create", reason = "not in state",
    provider = ws.provider, type = ws.type, body = rr.body } } }
end

describe("deploy text plan", function()
  it("shows a workspace's security-relevant properties although its body is longer than the cut", function()
    local text = render.plan(workspace_plan())
    assert.matches('properties.publicNetworkAccess = "Disabled"', text, 1, true)
    assert.matches('properties.requiredNsgRules = "NoAzureDatabricksRules"', text, 1, true)
    assert.matches("properties.parameters.enableNoPublicIp.value = true", text, 1, true)
    assert.matches("properties.parameters.requireInfrastructureEncryption.value = true", text, 1, true)
    assert.matches("properties.encryption.entities.managedServices.keySource", text, 1, true)
    assert.matches("more; --verbose shows them", text, 1, true)
  end)

  it("shows every property with --verbose", function()
    local p = workspace_plan()
    local text = render.plan(p, { verbose = true })
    assert.is_nil(text:find("more; --verbose", 1, true))
    assert.matches('properties.parameters.customPublicSubnetName.value = "snet-host"', text, 1, true)
    assert.matches("sku.name", text, 1, true)
  end)

  it("classifies properties by path", function()
    assert.is_true(render.security("properties.minimumTlsVersion"))
    assert.is_true(render.security("properties.networkAcls.defaultAction"))
    assert.is_true(render.security("properties.privateEndpointConnections[1]"))
    assert.is_true(render.security("external_access_enabled"))   -- a metastore's credential vending switch
    assert.is_true(render.security("privileges"))
    assert.is_false(render.security("tags.owner"))
    assert.is_false(render.security("location"))
  end)

  it("shows the metastore's external data access switch and the replication identity's EXTERNAL USE SCHEMA "
    .. "however long the change list", function()
    local changes = {}
    for i = 1, render.MAX_LINES + 3 do changes[i] = { kind = "update", path = "comment_" .. i, old = "a", new = "b" } end
    changes[#changes + 1] = { kind = "update", path = "external_access_enabled", old = false, new = true }
    local grant = { securable_type = "catalog", full_name = "sales", principal = "sp", privileges = { "EXTERNAL_USE_SCHEMA" } }
    local text = render.plan({ env = "prod", changes = 2, errors = 0, summary = { create = 1, update = 1, replace = 0,
      delete = 0, adopt = 0, noop = 0 }, actions = {
        { addr = "hub.metastore", action = "update", reason = "drifted", provider = "account", type = "metastore",
          changes = changes },
        { addr = "replication.external_use.sales", action = "create", reason = "not in state", provider = "workspace",
          type = "privileges", body = grant } } })
    assert.matches("~ external_access_enabled = false -> true", text, 1, true)
    assert.matches('+ privileges = ["EXTERNAL_USE_SCHEMA"]', text, 1, true)
    assert.matches("more; --verbose shows them", text, 1, true)
  end)
end)

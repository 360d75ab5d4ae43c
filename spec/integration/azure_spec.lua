-- azure (ARM client) against the simulator's ARM: long-running operations, contract errors,
-- 409 while a workspace is updating, throttling, 404s. Run under tools/with-sim.sh.
local http = require("http")
local json = require("json")
local auth = require("auth")
local azure = require("azure")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")

local function admin(method, path, body)
  local resp = http.request{ method = method, url = ADMIN .. path, body = body and json.encode(body) or nil,
                             headers = { ["Content-Type"] = "application/json" } }
  assert(resp.status < 300, path .. ": " .. resp.status .. " " .. resp.body)
  return resp.body ~= "" and json.decode(resp.body) or nil
end

-- requests the simulator answered on the ARM host, and how many with a given status
local function arm_calls(status)
  local stats = admin("GET", "/stats")
  return stats.by_host.management or 0, stats.by_status[tostring(status or 0)] or 0
end

local RG_API, NET_API, DBX_API = "2021-04-01", "2024-05-01", "2024-05-01"

describe("azure ARM client (simulator)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end

  local arm
  setup(function()
    arm = azure.client{ credential = auth.from_env() }
  end)
  after_each(function() admin("DELETE", "/faults") end)

  it("resource group: put, get, list, delete (202 + Location), then 404", function()
    local rg = arm:subscription_path("/resourceGroups/rg-azure-spec")
    local created = arm:put(rg, RG_API, { location = "westeurope", tags = { purpose = "spec" } })
    assert.are.equal("rg-azure-spec", created.name)
    assert.are.equal("Succeeded", created.properties.provisioningState)
    assert.are.equal("spec", arm:get(rg, RG_API).tags.purpose)
    local names = {}
    for _, g in ipairs(arm:list(arm:subscription_path("/resourceGroups"), RG_API)) do names[g.name] = true end
    assert.is_true(names["rg-azure-spec"])
    assert.is_true(arm:delete(rg, RG_API))
    local gone, err = arm:get(rg, RG_API)
    assert.is_nil(gone)
    assert.are.equal(404, err.status)
    assert.are.equal("string", type(err.code))
  end)

  it("a virtual network PUT waits for its operation and returns the final resource", function()
    local rg = arm:subscription_path("/resourceGroups/rg-net-spec")
    arm:put(rg, RG_API, { location = "westeurope" })
    local calls_before = arm_calls()
    local vnet = arm:put(rg .. "/providers/Microsoft.Network/virtualNetworks/vnet-spec", NET_API, {
      location = "westeurope",
      properties = { addressSpace = { addressPrefixes = { "10.90.0.0/16" } } } })
    assert.are.equal("Succeeded", vnet.properties.provisioningState)
    assert.are.equal("10.90.0.0/16", vnet.properties.addressSpace.addressPrefixes[1])
    -- the PUT, at least one poll of its operation, the final GET
    assert.is_true(arm_calls() - calls_before >= 3, "the operation was polled")
  end)

  it("a misspelt property is a 400 naming it, decoded into code/message/status", function()
    local rg = arm:subscription_path("/resourceGroups/rg-bad-spec")
    arm:put(rg, RG_API, { location = "westeurope" })
    local ok, err = pcall(arm.put, arm, rg .. "/providers/Microsoft.Network/virtualNetworks/vnet-bad", NET_API, {
      location = "westeurope", properties = { adressSpace = { addressPrefixes = { "10.91.0.0/16" } } } })
    assert.is_false(ok)
    assert.are.equal(400, err.status)
    assert.truthy(err.message:find("adressSpace", 1, true), err.message)
    assert.truthy(err.message:find("PUT /subscriptions/", 1, true), "the message names the call")
    assert.are.equal("string", type(err.code))
  end)

  it("workspace: two writes at once, the second is retried past 409 ConcurrentUpdateError", function()
    local rg = arm:subscription_path("/resourceGroups/rg-dbw-spec")
    arm:put(rg, RG_API, { location = "westeurope" })
    local id = rg .. "/providers/Microsoft.Databricks/workspaces/dbw-spec"
    local body = { location = "westeurope", sku = { name = "premium" },
                   properties = { managedResourceGroupId = arm:subscription_path("/resourceGroups/rg-dbw-spec-m") } }
    local _, conflicts_before = arm_calls(409)
    local results = arm:put_many({ { id = id, api_version = DBX_API, body = body },
                                   { id = id, api_version = DBX_API, body = body } }, { concurrency = 2 })
    for i = 1, 2 do
      assert.is_nil(results[i].error, results[i].error and tostring(results[i].error))
      assert.are.equal("Succeeded", results[i].body.properties.provisioningState)
    end
    local _, conflicts_after = arm_calls(409)
    assert.is_true(conflicts_after > conflicts_before, "the simulator answered 409 at least once")
    local ws = arm:get(id, DBX_API)
    assert.truthy(ws.properties.workspaceUrl:match("^adb%-%d+%."))
  end)

  it("a throttled GET is retried (429 + Retry-After) and succeeds", function()
    local rg = arm:subscription_path("/resourceGroups/rg-throttle-spec")
    arm:put(rg, RG_API, { location = "westeurope" })
    admin("POST", "/faults", { host_kind = "management", method = "GET", path = "rg-throttle-spec",
                               retry_after = 0, times = 2 })
    local _, resp = arm:request{ method = "GET", path = rg, api_version = RG_API }
    assert.are.equal(200, resp.status)
    assert.are.equal(3, resp.attempts)
  end)

  it("an injected 500 on a PUT surfaces as a decoded error once retries are used up", function()
    local rg = arm:subscription_path("/resourceGroups/rg-fail-spec")
    admin("POST", "/faults", { host_kind = "management", method = "PUT", path = "rg-fail-spec",
                               status = 500, code = "InternalServerError", message = "boom from the simulator" })
    local ok, err = pcall(arm.put, arm, rg, RG_API, { location = "westeurope" })
    assert.is_false(ok)
    assert.are.equal("InternalServerError", err.code)
    assert.are.equal(500, err.status)
    assert.truthy(err.message:find("boom from the simulator", 1, true))
  end)
end)

-- The plan's bulk refresh against the simulator: a no-change plan reads the estate through Resource
-- Graph (a few POSTs) and GETs only the child resources Resource Graph does not index; it plans
-- exactly what a plan that GETs every resource plans, including while the index lags ARM (a
-- desired change is planned, an applied change the index has not seen yet is not planned again),
-- and out-of-band drift shows. ARM calls are counted with the simulator's admin stats.
local H = require("spec.integration.deploy_helpers")

local describe_sim = H.available() and describe or pending

-- ARM requests since the last reset: total, Resource Graph POSTs, GETs by resource type
local function arm_calls()
  local _, s = H.admin("GET", "/stats")
  local total, graph, gets = 0, 0, {}
  for route, n in pairs(s.by_route or {}) do
    local m = route:match("^management (.+)$")
    if m then
      total = total + n
      if m == "POST Microsoft.ResourceGraph/resources" then graph = graph + n end
      local t = m:match("^GET (.+)$")
      if t then gets[t] = (gets[t] or 0) + n end
    end
  end
  return total, graph, gets
end

local function plan(fx, env, mode)
  H.admin("DELETE", "/stats")
  local rc, out = H.run(fx, env, "plan --compact --read " .. mode)
  local total, graph, gets = arm_calls()
  return rc, out, { total = total, graph = graph, gets = gets }
end

local function retag(fx, env, value)
  local path = fx.dir .. "/" .. env .. ".lua"
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  local n
  text, n = text:gsub('%["env"%] = "[^"]*"', '["env"] = "' .. value .. '"')
  assert(n == 1, "the fixture's tags were not found")
  f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe_sim("deploy plan: the live estate through Resource Graph", function()
  local fx

  setup(function()
    fx = H.fixture("gr", { regions = { "westus3", "canadacentral" }, base = 180, spokes = 2 })
    local rc, out = H.run(fx, fx.primary, "apply")
    assert(rc == 0, out)
  end)

  teardown(function() H.admin("DELETE", "/graph/freeze") end)

  it("a no-change plan: 3 Resource Graph queries, GETs only for what it does not index", function()
    local rc_e, out_e, each = plan(fx, fx.primary, "each")
    assert.equal(0, rc_e, out_e)
    local rc, out, bulk = plan(fx, fx.primary, "graph")
    assert.equal(0, rc, out)
    assert.matches("No changes", out)
    assert.equal(0, each.graph)
    assert.equal(3, bulk.graph)
    -- indexed types (and children carried inline by their parents) are never read one by one
    for _, t in ipairs({ "Microsoft.Resources/resourceGroups", "Microsoft.Network/virtualNetworks",
      "Microsoft.Network/virtualNetworks/subnets", "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
      "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
      "Microsoft.Authorization/roleAssignments", "Microsoft.Storage/storageAccounts",
      "Microsoft.Storage/storageAccounts/privateEndpointConnections", "Microsoft.Databricks/workspaces" }) do
      assert.is_nil(bulk.gets[t], t)
    end
    -- the rest is read exactly as before
    for t, n in pairs(bulk.gets) do assert.equal(each.gets[t], n, t) end
    assert.is_true(bulk.total * 3 < each.total, bulk.total .. " vs " .. each.total)
  end)

  it("while the index lags: a desired change is planned; an applied one is not planned again", function()
    assert.equal(200, (H.admin("POST", "/graph/freeze")))
    retag(fx, fx.primary, "gr-v2")
    local rc_e, out_e = H.run(fx, fx.primary, "plan --compact --read each")
    local rc, out = H.run(fx, fx.primary, "plan --compact")
    assert.equal(2, rc_e, out_e)
    assert.equal(2, rc, out)
    local want = out_e:match("Plan: [^\n]+")
    assert.is_string(want)
    assert.equal(want, out:match("Plan: [^\n]+"))
    rc, out = H.run(fx, fx.primary, "apply")
    assert.equal(0, rc, out)
    -- the frozen index still shows every tag as it was: each differing row is read again, and the
    -- plan is the one that GETs everything (vault keys keep their tags on a PUT of an existing key,
    -- so both still show those two)
    rc_e, out_e = H.run(fx, fx.primary, "plan --compact --read each")
    local rc2, out2, bulk = plan(fx, fx.primary, "graph")
    assert.equal(rc_e, rc2, out2)
    assert.equal(out_e:match("Plan: [^\n]+") or "No changes", out2:match("Plan: [^\n]+") or "No changes")
    assert.not_matches("vnet will be", out2)
    assert.is_true((bulk.gets["Microsoft.Network/virtualNetworks"] or 0) > 0)
    assert.equal(204, (H.admin("DELETE", "/graph/freeze")))
    local _, out3, bulk3 = plan(fx, fx.primary, "graph")
    assert.not_matches("vnet will be", out3)
    assert.is_nil(bulk3.gets["Microsoft.Network/virtualNetworks"])
  end)

  it("out-of-band drift on an indexed resource is planned", function()
    local arm = H.clients().arm
    local id
    for _, row in ipairs(arm:graph_query("Resources | where type =~ 'microsoft.network/networksecuritygroups'")) do
      if row.id:find(fx.primary, 1, true) then id = row.id end
    end
    assert.is_string(id)
    local nsg = arm:get(id, "2024-05-01")
    assert.is_table(nsg)
    arm:put(id, "2024-05-01", { location = nsg.location, tags = { env = "changed by hand" },
      properties = nsg.properties })
    local rc, out = H.run(fx, fx.primary, "plan --compact")
    assert.equal(2, rc, out)
    assert.matches("nsg will be updated in%-place", out)
  end)
end)

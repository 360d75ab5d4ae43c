-- Unit specs of the plan's bulk refresh: the Resource Graph snapshot (rows -> GET shape, children
-- found inline in their parent's row, the query text) and the engine's use of it (a row only ever
-- confirms "up to date"; anything the snapshot lacks or shows different is read with its own GET).
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
if not pcall(require, "json") then package.preload.json = function() return require("cjson") end end

local resource = require("deploy.resource")
local engine = require("deploy.engine")
local state = require("deploy.statefile")
local drivers = require("deploy.drivers")
local snapshot = require("deploy.snapshot")
local util = require("deploy.util")
local arm_drivers = require("deploy.drivers.arm")

local SUB = "/subscriptions/s1"
local VNET = SUB .. "/resourceGroups/rg-a/providers/Microsoft.Network/virtualNetworks/v1"

describe("deploy snapshot", function()
  it("serves rows in the GET shape, case-insensitively, and children found inline in their parent", function()
    local snap = snapshot.new({
      { id = VNET, name = "v1", type = "microsoft.network/virtualnetworks", resourceGroup = "rg-a",
        subscriptionId = "s1", tenantId = "t", kind = "", sku = require("json").null,
        properties = { subnets = {
          { id = VNET .. "/subnets/host", name = "host", properties = { addressPrefix = "10.0.1.0/24" } },
          { id = VNET .. "/subnets/bare" } } } },
    })
    local v = snap:get(VNET:upper())
    assert.equal("v1", v.name)
    assert.is_nil(v.resourceGroup); assert.is_nil(v.subscriptionId); assert.is_nil(v.tenantId)
    assert.is_nil(v.kind); assert.is_nil(v.sku)
    assert.equal("10.0.1.0/24", snap:get(VNET .. "/subnets/HOST").properties.addressPrefix)
    -- an inline reference without properties is not the child's state: the snapshot lacks it
    assert.is_nil(snap:get(VNET .. "/subnets/bare"))
    assert.is_nil(snap:get(VNET .. "/subnets/missing"))
    assert.is_nil(snap:get(SUB .. "/resourceGroups/rg-b/providers/Microsoft.Network/virtualNetworks/v1"))
    assert.is_nil(snap:get(nil))
  end)

  it("queries each table over the resource groups the stack's ids name", function()
    local s = resource.stack{ subscription_id = "s1" }
    s:add{ addr = "a", provider = "arm", id = SUB .. "/resourceGroups/RG-A", body = {} }
    s:add{ addr = "b", provider = "arm", id = VNET, body = {} }
    s:add{ addr = "c", provider = "arm_approve", id = SUB .. "/resourceGroups/rg-b/providers/X/y/z", body = {} }
    s:add{ addr = "d", provider = "arm", id = "/subscriptions/other/resourceGroups/rg-x", body = {} }
    s:add{ addr = "e", provider = "workspace", id = SUB .. "/resourceGroups/rg-w", body = {} }
    assert.same({ "rg-a", "rg-b" }, snapshot.resource_groups(s))
    assert.equal("Resources | where resourceGroup in~ ('rg-a', 'it\\'s')",
      snapshot.query_text(snapshot.TABLES[1], { "rg-a", "it's" }))
    assert.equal("ResourceContainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups' and " ..
      "resourceGroup in~ ('rg-a')", snapshot.query_text(snapshot.TABLES[2], { "rg-a" }))
  end)

  it("load: one query per table, pages counted; a refused query falls back to GETs (nil)", function()
    local s = resource.stack{ subscription_id = "s1" }
    s:add{ addr = "b", provider = "arm", id = VNET, body = {} }
    local queries = {}
    local arm = { graph_query = function(_, q)
      queries[#queries + 1] = q
      if q:match("^Resources") then return { { id = VNET, name = "v1" } }, 2 end
      return {}, 1
    end }
    local snap = snapshot.load({ arm = arm }, s)
    assert.equal(3, #queries)
    assert.equal(4, snap.stats.calls)
    assert.equal("v1", snap:get(VNET).name)
    local refused = { graph_query = function() error({ code = "AuthorizationFailed", message = "no", status = 403 }, 0) end }
    assert.is_nil(snapshot.load({ arm = refused }, s))
    assert.is_nil(snapshot.load({}, s))
  end)

  it("the ARM driver restores the declared type's case; approvals come from the account's connections", function()
    local snap = snapshot.new({
      { id = VNET, type = "microsoft.network/virtualnetworks", properties = {} },
      { id = SUB .. "/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/sa", properties = {
        privateEndpointConnections = { { id = "c1", name = "pe-x.guid", properties = {
          privateEndpoint = { id = "/x/privateEndpoints/pe-x" },
          privateLinkServiceConnectionState = { status = "Approved" } } } } } },
    })
    local rr = { id = VNET, id_known = true, type = "Microsoft.Network/virtualNetworks" }
    assert.equal("Microsoft.Network/virtualNetworks", arm_drivers.arm.from_snapshot(snap, rr).type)
    local ap = { id = SUB .. "/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/sa", id_known = true,
      body = { endpoint_name = "pe-x" } }
    local c = arm_drivers.arm_approve.from_snapshot(snap, ap)
    assert.equal("Approved", arm_drivers.arm_approve.view(ap, c).status)
    ap.body.endpoint_name = "pe-y"
    assert.is_nil(arm_drivers.arm_approve.from_snapshot(snap, ap))
  end)
end)

describe("deploy plan with a Resource Graph snapshot", function()
  local cloud, reads
  -- a fake cloud whose driver also reads from a snapshot
  before_each(function()
    drivers.reset()
    cloud, reads = {}, {}
    drivers.register("fake", "*", {
      read = function(_, rr) reads[#reads + 1] = rr.id; return cloud[rr.id] and util.deepcopy(cloud[rr.id]) end,
      from_snapshot = function(snap, rr) return snap:get(rr.id) end,
      create = function(_, rr) cloud[rr.id] = util.deepcopy(rr.body); return util.deepcopy(rr.body) end,
      update = function(_, rr) cloud[rr.id] = util.deepcopy(rr.body); return util.deepcopy(rr.body) end,
      delete = function(_, e) cloud[e.id] = nil end,
      id = function(rr) return rr.id end,
    })
  end)

  local function stack(tags)
    local s = resource.stack()
    for _, n in ipairs({ "a", "b", "c" }) do
      s:add{ addr = n, provider = "fake", type = "t", id = "/r/" .. n, body = { tags = { env = tags[n] or "x" } } }
    end
    return s
  end

  local function applied()
    local st = state.new(state.memory_store(), "test", { holder = "spec" })
    st:lock(); st:load()
    local s = stack({})
    engine.apply({}, s, st, engine.plan({}, s, st.doc, { read = "each" }))
    return st
  end

  local function by_addr(p)
    local out = {}
    for _, a in ipairs(p.actions) do out[a.addr] = a.action end
    return out
  end

  it("a no-change plan confirmed by the snapshot issues no read at all", function()
    local st = applied()
    reads = {}
    local snap = snapshot.new({ { id = "/r/a", tags = { env = "x" } }, { id = "/r/b", tags = { env = "x" } },
      { id = "/r/c", tags = { env = "x" } } })
    local p = engine.plan({}, stack({}), st.doc, { snapshot = snap })
    assert.equal(0, p.changes)
    assert.same({}, reads)
    assert.same({ graph = 3, get = 0, graph_calls = 0 }, p.reads)
  end)

  it("what the snapshot lacks or shows different is read again, and the read decides", function()
    local st = applied()
    reads = {}
    cloud["/r/c"].tags.env = "drifted"            -- real drift on c, which the snapshot does not show yet
    local snap = snapshot.new({
      { id = "/r/a", tags = { env = "stale" } },   -- the index lags: a is really up to date
      { id = "/r/c", tags = { env = "x" } },       -- lagging the other way: shows c as it was
    })                                             -- b: not indexed yet
    local p = engine.plan({}, stack({}), st.doc, { snapshot = snap })
    local acts = by_addr(p)
    assert.equal("noop", acts.a)
    assert.equal("noop", acts.b)
    -- drift younger than the index is seen by the next plan (docs/deploy.md, "Reading the estate")
    assert.equal("noop", acts.c)
    table.sort(reads)
    assert.same({ "/r/a", "/r/b" }, reads)
    -- a desired change is never hidden by a row that matches the old declaration
    reads = {}
    p = engine.plan({}, stack({ b = "new" }), st.doc, { snapshot = snapshot.new({ { id = "/r/b", tags = { env = "x" } } }) })
    assert.equal("update", by_addr(p).b)
    assert.same({ "/r/a", "/r/b", "/r/c" }, (function() table.sort(reads); return reads end)())
  end)

  it("a resource not in state is adopted only after its own read; --read each reads everything", function()
    cloud["/r/a"] = { tags = { env = "x" } }
    local st = state.new(state.memory_store(), "test", { holder = "spec" })
    st:lock(); st:load()
    local p = engine.plan({}, stack({}), st.doc, { snapshot = snapshot.new({ { id = "/r/a", tags = { env = "x" } } }) })
    assert.equal("adopt", by_addr(p).a)
    assert.equal("/r/a", reads[1])
    local st2 = applied()
    reads = {}
    p = engine.plan({}, stack({}), st2.doc, { read = "each",
      snapshot = snapshot.new({ { id = "/r/a", tags = { env = "x" } } }) })
    assert.equal(3, #reads)
    assert.same({ graph = 0, get = 3, graph_calls = 0 }, p.reads)
  end)
end)

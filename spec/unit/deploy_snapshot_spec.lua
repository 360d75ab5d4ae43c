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
    assert.same({ graph = 3, list = 0, get = 0, get_types = {}, graph_calls = 0, list_calls = 0 }, p.reads)
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
    assert.same({ graph = 0, list = 0, get = 3, get_types = { ["fake t"] = 3 }, graph_calls = 0, list_calls = 0 }, p.reads)
  end)
end)

describe("deploy snapshot: lists of the children Resource Graph does not index", function()
  local SA = SUB .. "/resourceGroups/rg-a/providers/Microsoft.Storage/storageAccounts/sa"
  local C = "Microsoft.Storage/storageAccounts/blobServices/containers"

  it("list_of names the parent's list only when the list carries everything the declaration sets", function()
    local l = snapshot.list_of(C, SA .. "/blobServices/default/containers/c1", "2024-01-01",
      { properties = { publicAccess = "None" } })
    assert.same({ path = SA .. "/blobServices/default/containers", api_version = "2024-01-01",
      id = SA .. "/blobServices/default/containers/c1" }, l)
    -- the list omits the immutability policy a GET returns
    assert.is_nil(snapshot.list_of(C, SA .. "/blobServices/default/containers/c1", "2024-01-01",
      { properties = { immutabilityPolicy = { immutabilityPeriodSinceCreationInDays = 1 } } }))
    -- a vault's key list carries attributes and tags, not the key type
    local KEY = SUB .. "/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv/keys/k1"
    assert.is_nil(snapshot.list_of("Microsoft.KeyVault/vaults/keys", KEY, "2023-07-01", { properties = { kty = "RSA" } }))
    assert.equal(SUB .. "/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv/keys",
      snapshot.list_of("Microsoft.KeyVault/vaults/keys", KEY, "2023-07-01", { tags = { a = "b" } }).path)
    assert.is_nil(snapshot.list_of("Microsoft.Network/virtualNetworks", VNET, "2024-05-01", {}))
    assert.is_nil(snapshot.list_of(C, nil, "2024-01-01", {}))
  end)

  it("list_groups keeps only lists that cover two or more children", function()
    local g = snapshot.list_groups({
      { path = "/p/one", api_version = "v", id = "/p/one/a" },
      { path = "/p/two", api_version = "v", id = "/p/two/a" },
      { path = "/P/TWO", api_version = "v", id = "/p/two/b" },
      { path = "/p/two", api_version = "v", id = "/p/two/B" },   -- the same child again
      { path = "/p/three", api_version = "v", id = "/p/three/a" },
      { path = "/p/three", api_version = "w", id = "/p/three/b" }, -- another api-version: another list
    })
    assert.equal(1, #g)
    assert.equal("/p/two", g[1].path)
    assert.same({ "/p/two/a", "/p/two/b" }, g[1].ids)
  end)
end)

describe("deploy plan with lists of children", function()
  local cloud, reads, lists, listed
  before_each(function()
    drivers.reset()
    cloud, reads, lists, listed = {}, {}, {}, {}
    drivers.register("fake", "*", {
      read = function(_, rr) reads[#reads + 1] = rr.id; return cloud[rr.id] and util.deepcopy(cloud[rr.id]) end,
      from_snapshot = function(snap, rr) return snap:get(rr.id) end,
      list_of = function(rr) return { path = rr.id:match("^(.*)/[^/]+$"), api_version = "v", id = rr.id } end,
      create = function(_, rr) cloud[rr.id] = util.deepcopy(rr.body); return util.deepcopy(rr.body) end,
      update = function(_, rr) cloud[rr.id] = util.deepcopy(rr.body); return util.deepcopy(rr.body) end,
      delete = function(_, e) cloud[e.id] = nil end,
      id = function(rr) return rr.id end,
    })
  end)

  -- children a, b, c of /p/x and d alone under /p/y
  local function stack()
    local s = resource.stack()
    for _, id in ipairs({ "/p/x/a", "/p/x/b", "/p/x/c", "/p/y/d" }) do
      s:add{ addr = id:gsub("/", "_"), provider = "fake", type = "t", id = id, body = { tags = { env = "x" } } }
    end
    return s
  end

  local function applied()
    local st = state.new(state.memory_store(), "test", { holder = "spec" })
    st:lock(); st:load()
    engine.apply({}, stack(), st, engine.plan({}, stack(), st.doc, { read = "each" }))
    return st
  end

  local function ctx_listing(fail)
    return { arm = { list = function(_, path, api)
      lists[#lists + 1] = path .. "@" .. api
      if fail then error({ code = "AuthorizationFailed", message = "no", status = 403 }, 0) end
      return util.deepcopy(listed[path] or {}), 1
    end } }
  end

  it("a listed child that matches is confirmed; one listed differing is read again; one missing is read", function()
    local st = applied()
    reads = {}
    listed["/p/x"] = {
      { id = "/p/x/a", tags = { env = "x" } },
      { id = "/p/x/b", tags = { env = "stale" } },   -- the list shows b differing: its GET decides
    }                                                -- c: missing from the list
    local p = engine.plan(ctx_listing(), stack(), st.doc, { snapshot = snapshot.new({}) })
    assert.equal(0, p.changes)
    assert.same({ "/p/x@v" }, lists)                 -- /p/y holds one child: its GET costs as much
    table.sort(reads)
    assert.same({ "/p/x/b", "/p/x/c", "/p/y/d" }, reads)
    assert.equal(1, p.reads.list)
    assert.equal(3, p.reads.get)
    assert.equal(1, p.reads.list_calls)
    assert.same({ ["fake t"] = 3 }, p.reads.get_types)
  end)

  it("a listed child whose declaration changed is read and updated", function()
    local st = applied()
    reads = {}
    listed["/p/x"] = { { id = "/p/x/a", tags = { env = "x" } }, { id = "/p/x/b", tags = { env = "x" } },
      { id = "/p/x/c", tags = { env = "x" } } }
    local s = stack()
    s.by_addr["_p_x_b"].body = { tags = { env = "new" } }
    local p = engine.plan(ctx_listing(), s, st.doc, { snapshot = snapshot.new({}) })
    local acts = {}
    for _, a in ipairs(p.actions) do acts[a.addr] = a.action end
    assert.equal("update", acts["_p_x_b"])
    assert.equal("noop", acts["_p_x_a"])
    table.sort(reads)
    assert.same({ "/p/x/b", "/p/y/d" }, reads)
  end)

  it("a failed list leaves its children to their own GETs; --read each lists nothing", function()
    local st = applied()
    reads = {}
    local p = engine.plan(ctx_listing(true), stack(), st.doc, { snapshot = snapshot.new({}) })
    assert.equal(0, p.changes)
    assert.equal(4, #reads)
    assert.equal(0, p.reads.list)
    reads, lists = {}, {}
    p = engine.plan(ctx_listing(), stack(), st.doc, { read = "each" })
    assert.same({}, lists)
    assert.equal(4, #reads)
    assert.equal(4, p.reads.get)
  end)
end)

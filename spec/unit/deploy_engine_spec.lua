-- Unit specs of the deployment engine's pure logic: graph, lazy references, diff, plan/apply with
-- an in-memory fake cloud, state through an in-memory blob store with ETags and a lease.
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
if not pcall(require, "json") then package.preload.json = function() return require("cjson") end end

local resource = require("deploy.resource")
local lazy = require("deploy.lazy")
local diff = require("deploy.diff")
local engine = require("deploy.engine")
local state = require("deploy.statefile")
local drivers = require("deploy.drivers")
local render = require("deploy.render")

-- A fake cloud: objects by id; the server adds fields we never declare.
local function fake_cloud()
  local cloud = { objects = {}, calls = {}, fail = {}, next = 0 }
  local d = {}
  local function log(op, id) cloud.calls[#cloud.calls + 1] = op .. " " .. tostring(id) end
  function d.read(_, rr, entry)
    local id = rr.id_known and rr.id or (entry and entry.id)
    if not id then return nil end
    log("read", id)
    local o = cloud.objects[id]
    return o and require("deploy.util").deepcopy(o) or nil
  end
  local function write(rr)
    if cloud.fail[rr.addr] then error({ code = "BOOM", message = "injected failure on " .. rr.addr }, 0) end
    cloud.next = cloud.next + 1
    local o = require("deploy.util").deepcopy(rr.body)
    o.id = rr.id
    o.etag = "W/" .. cloud.next
    o.properties = o.properties or {}
    o.properties.provisioningState = "Succeeded"
    o.properties.serverAssigned = "srv-" .. rr.addr
    cloud.objects[rr.id] = o
    return require("deploy.util").deepcopy(o)
  end
  function d.create(_, rr) log("create", rr.id); return write(rr) end
  function d.update(_, rr) log("update", rr.id); return write(rr) end
  function d.delete(_, entry) log("delete", entry.id); cloud.objects[entry.id] = nil end
  function d.id(rr) return rr.id end
  drivers.register("fake", "*", d)
  return cloud
end

local function add(s, r)
  r.provider = "fake"
  r.type = r.type or "thing"
  r.body = r.body or {}
  return s:add(r)
end

local function estate(opts)
  opts = opts or {}
  local s = resource.stack()
  local rg = add(s, { addr = "rg", id = "/rg", body = { location = opts.location or "westeurope" } })
  local vnet = add(s, { addr = "net.vnet", id = "/rg/vnet", depends_on = { rg },
    body = { properties = { addressSpace = { addressPrefixes = { "10.0.0.0/16" } } } } })
  local ws = add(s, { addr = "ws", id = "/rg/ws", create_only = { "properties.encryption" },
    body = { properties = { vnet = lazy.ref(vnet, "properties.serverAssigned"),
      encryption = opts.encryption or "on", secret = "hunter2" } },
    sensitive = { "properties.secret" } })
  local other = add(s, { addr = "other", id = "/other", body = { x = 1 } })
  s:output("ws_vnet", lazy.ref(ws, "properties.vnet"))
  return s, { rg = rg, vnet = vnet, ws = ws, other = other }
end

local function new_state(store)
  local st = state.new(store or state.memory_store(), "test", { holder = "spec" })
  st:lock()
  st:load()
  return st
end

describe("deploy graph", function()
  it("orders dependencies first and breaks ties by declaration order", function()
    local s = estate()
    local g = engine.graph(s.resources)
    local order = {}
    for _, r in ipairs(g:order()) do order[#order + 1] = r.addr end
    assert.same({ "rg", "other", "net.vnet", "ws" }, order)
    local waves = g:waves()
    assert.equal(3, #waves)
  end)

  it("reports a cycle by naming it", function()
    local s = resource.stack()
    local a = add(s, { addr = "a", id = "/a" })
    local b = add(s, { addr = "b", id = "/b", body = { x = lazy.ref(a, "id") } })
    a.body = { y = lazy.ref(b, "id") }
    local g = engine.graph(s.resources)
    local ok, e = pcall(g.order, g)
    assert.is_false(ok)
    assert.equal("DEPENDENCY_CYCLE", e.code)
    assert.matches("a %-> b %-> a", e.message)
  end)

  it("refuses a reference to an undeclared resource", function()
    local s = resource.stack()
    local ghost = { addr = "ghost" }
    add(s, { addr = "a", id = "/a", body = { x = lazy.ref(ghost, "id") } })
    local ok, e = pcall(engine.graph, s.resources)
    assert.is_false(ok)
    assert.equal("UNKNOWN_DEPENDENCY", e.code)
    assert.matches("ghost", e.message)
  end)

  it("refuses duplicate addresses", function()
    local s = resource.stack()
    add(s, { addr = "a", id = "/a" })
    local ok, e = pcall(add, s, { addr = "a", id = "/b" })
    assert.is_false(ok)
    assert.equal("DUPLICATE_ADDRESS", e.code)
  end)

  it("closure of a target includes its dependencies only", function()
    local s, r = estate()
    local g = engine.graph(s.resources)
    local set = g:closure({ r.ws })
    assert.is_true(set[r.rg] and set[r.vnet] and set[r.ws])
    assert.is_nil(set[r.other])
  end)
end)

describe("deploy lazy references", function()
  it("resolves refs, derived values and concatenation; unknown when the output is missing", function()
    local s = resource.stack()
    local a = add(s, { addr = "a", id = "/a" })
    local v = { k = "azure:" .. lazy.ref(a, "properties.region") .. ":" .. lazy.ref(a, "id"),
      n = lazy.fn(function(x) return x * 2 end, lazy.ref(a, "properties.count")) }
    local out = { id = "/a", properties = { region = "westeurope", count = 21 } }
    local r, unknown = lazy.resolve(v, function() return out end)
    assert.is_false(unknown)
    assert.equal("azure:westeurope:/a", r.k)
    assert.equal(42, r.n)
    local r2, unknown2 = lazy.resolve(v, function() return nil end)
    assert.is_true(unknown2)
    assert.equal(lazy.UNKNOWN, r2.k)
    assert.equal("(known after apply)", tostring(r2.n))
  end)

  it("selects array items by key in paths", function()
    local util = require("deploy.util")
    local t = { properties = { subnets = { { name = "a", id = "1" }, { name = "b", id = "2" } } } }
    assert.equal("2", util.get(t, "properties.subnets[name=b].id"))
    assert.equal("1", util.get(t, "properties.subnets[1].id"))
    assert.is_nil(util.get(t, "properties.subnets[name=c].id"))
  end)
end)

describe("deploy diff", function()
  it("ignores server-populated fields and compares only what is declared", function()
    local desired = { location = "westeurope", properties = { a = 1, subnets = { { name = "s1", p = "x" } } } }
    local live = { id = "/x", etag = "e", location = "West Europe",
      properties = { a = 1, provisioningState = "Succeeded",
        subnets = { { name = "s1", p = "x", id = "/x/s1", etag = "e2" } } } }
    assert.same({}, diff.compare(desired, live))
  end)

  it("reports changed, added and removed named items", function()
    local desired = { properties = { a = 2, subnets = { { name = "s1", p = "y" }, { name = "s3", p = "z" } } } }
    local live = { properties = { a = 1, subnets = { { name = "s1", p = "x" }, { name = "s2", p = "q" } } } }
    local ch = diff.compare(desired, live)
    local paths = {}
    for _, c in ipairs(ch) do paths[c.path] = c.kind end
    assert.equal("change", paths["properties.a"])
    assert.equal("change", paths["properties.subnets[name=s1].p"])
    assert.equal("add", paths["properties.subnets[name=s3]"])
    assert.equal("remove", paths["properties.subnets[name=s2]"])
  end)

  it("treats lists of scalars as sets and ARM ids case-insensitively", function()
    assert.same({}, diff.compare({ l = { "b", "a" }, id = "/subscriptions/X/rg" },
      { l = { "a", "b" }, id = "/SUBSCRIPTIONS/x/RG" }))
    assert.equal(1, #diff.compare({ l = { "a", "c" } }, { l = { "a", "b" } }))
  end)

  it("masks sensitive values", function()
    local ch = diff.mask(diff.compare({ p = { secret = "new" } }, { p = { secret = "old" } }), { "p.secret" })
    assert.equal(diff.MASK, ch[1].old)
    assert.equal(diff.MASK, ch[1].new)
  end)
end)

describe("deploy plan and apply", function()
  local cloud
  before_each(function() drivers.reset(); cloud = fake_cloud() end)

  it("plans everything on an empty estate, with unknown references and masked values", function()
    local s = estate()
    local st = new_state()
    local p = engine.plan({}, s, st.doc)
    assert.equal(4, p.summary.create)
    assert.equal(4, p.changes)
    local text = render.plan(p)
    assert.matches("# ws will be created", text)
    assert.matches("properties.vnet = %(known after apply%)", text)
    assert.matches("properties.secret = %(sensitive value%)", text)
    assert.not_matches("hunter2", text)
    assert.matches("Plan: 4 to add, 0 to change", text)
  end)

  it("applies in dependency order, writes state after each resource, then plans no change", function()
    local s = estate()
    local store = state.memory_store()
    local st = new_state(store)
    local p = engine.plan({}, s, st.doc)
    local rep = engine.apply({}, s, st, p)
    assert.is_true(rep.ok)
    assert.equal(4, #rep.applied)
    assert.equal(4, st.doc.serial)                     -- one save per resource
    assert.equal(3, #store:versions("test.tfstate"))   -- earlier versions kept
    local creates = {}
    for _, c in ipairs(cloud.calls) do if c:match("^create") then creates[#creates + 1] = c end end
    local pos = {}
    for i, c in ipairs(creates) do pos[c] = i end
    assert.is_true(pos["create /rg"] < pos["create /rg/vnet"])
    assert.is_true(pos["create /rg/vnet"] < pos["create /rg/ws"])
    assert.equal("srv-net.vnet", cloud.objects["/rg/ws"].properties.vnet)
    -- state holds no secret in clear
    assert.equal(diff.MASK, st.doc.resources.ws.key.properties.secret)
    local p2 = engine.plan({}, s, st.doc)
    assert.equal(0, p2.changes)
    assert.matches("No changes", render.plan(p2))
    assert.same({ ws_vnet = "srv-net.vnet" }, engine.outputs(s, st.doc))
  end)

  it("detects drift as an update, a create-only change as a replace, and removals as deletes", function()
    local s = estate()
    local st = new_state()
    engine.apply({}, s, st, engine.plan({}, s, st.doc))
    cloud.objects["/rg/vnet"].properties.addressSpace.addressPrefixes = { "10.9.0.0/16" }
    local s2 = estate({ encryption = "off" })
    s2.by_addr.other = nil
    table.remove(s2.resources, 4)
    local p = engine.plan({}, s2, st.doc)
    local by = {}
    for _, a in ipairs(p.actions) do by[a.addr] = a end
    assert.equal("update", by["net.vnet"].action)
    assert.matches("addressPrefixes", by["net.vnet"].reason)
    assert.equal("replace", by.ws.action)
    assert.matches("create%-only property properties.encryption", by.ws.reason)
    assert.equal("delete", by.other.action)
    local rep = engine.apply({}, s2, st, p)
    assert.is_true(rep.ok)
    assert.is_nil(cloud.objects["/other"])
    assert.equal("off", cloud.objects["/rg/ws"].properties.encryption)
    assert.equal(0, engine.plan({}, s2, st.doc).changes)
  end)

  it("re-applies what depends on a replaced resource (a grant on a replaced recipient)", function()
    local function grant_estate(enc)
      local s = estate({ encryption = enc })
      -- a grant whose object is deleted with the workspace: it must be written again after the replace
      add(s, { addr = "ws.grant", id = "/rg/ws/grant", depends_on = { s.by_addr.ws }, body = { who = "dr" } })
      return s
    end
    local s = grant_estate("on")
    local st = new_state()
    engine.apply({}, s, st, engine.plan({}, s, st.doc))
    local s2 = grant_estate("off")
    local p = engine.plan({}, s2, st.doc)
    local by = {}
    for _, a in ipairs(p.actions) do by[a.addr] = a end
    assert.equal("replace", by.ws.action)
    assert.equal("update", by["ws.grant"].action)
    assert.matches("re%-applied: ws is replaced", by["ws.grant"].reason)
    -- the replace deletes the grant with the workspace (as a recipient's delete takes its grants)
    local real_delete = drivers.get("fake", "thing").delete
    local d = drivers.get("fake", "thing")
    d.delete = function(c, entry)
      real_delete(c, entry)
      if entry.id == "/rg/ws" then cloud.objects["/rg/ws/grant"] = nil end
    end
    local rep = engine.apply({}, s2, st, p)
    d.delete = real_delete
    assert.is_true(rep.ok)
    assert.is_not_nil(cloud.objects["/rg/ws/grant"])
    assert.equal(0, engine.plan({}, s2, st.doc).changes)
  end)

  it("write_once: sent with the create only; never compared; an update leaves it out", function()
    local arm_driver = require("deploy.drivers.arm").arm
    local calls = {}
    local fake_arm = {
      put = function(_, id, _, body) calls[#calls + 1] = { "PUT", id, body }; return body end,
      patch = function(_, id, _, body) calls[#calls + 1] = { "PATCH", id, body }; return body end,
    }
    local rr = { id = "/v/secrets/s", api_version = "1", write_once = { "properties.value" },
      body = { tags = { a = "2" }, properties = { value = "placeholder" } } }
    arm_driver.create({ arm = fake_arm }, rr)
    assert.equal("PUT", calls[1][1])
    assert.equal("placeholder", calls[1][3].properties.value)
    arm_driver.update({ arm = fake_arm }, rr, {})
    assert.equal("PATCH", calls[2][1])
    assert.same({ tags = { a = "2" } }, calls[2][3])
    -- a plain ARM resource is still updated by PUT of its whole body
    arm_driver.update({ arm = fake_arm }, { id = "/x", api_version = "1", body = { properties = { v = 1 } } }, {})
    assert.same({ "PUT", "/x", { properties = { v = 1 } } }, calls[3])
    -- the live object never shows the value (ARM does not return it): no change is planned
    local s = resource.stack()
    local r = add(s, { addr = "kv.secret", id = "/v/secrets/s", body = { properties = { value = "placeholder" } },
      write_once = { "properties.value" } })
    cloud.objects[r.id] = { id = r.id, properties = { secretUri = "https://v/secrets/s" } }
    local doc = state.empty("t")
    doc.resources[r.addr] = { id = r.id, provider = "fake", type = "thing" }
    local p = engine.plan({}, s, doc)
    assert.equal("noop", p.actions[1].action, p.actions[1].reason)
    r.write_once = nil
    assert.equal("update", engine.plan({}, s, doc).actions[1].action)
  end)

  it("adopts an existing matching resource instead of creating it", function()
    local s = estate()
    cloud.objects["/other"] = { id = "/other", x = 1, extra = "server" }
    local st = new_state()
    local p = engine.plan({}, s, st.doc)
    for _, a in ipairs(p.actions) do
      if a.addr == "other" then assert.equal("adopt", a.action) end
    end
  end)

  it("a failure stops only its dependents; independent resources still apply; rerun converges", function()
    local s = estate()
    local st = new_state()
    cloud.fail["net.vnet"] = true
    local rep = engine.apply({}, s, st, engine.plan({}, s, st.doc))
    assert.is_false(rep.ok)
    assert.equal(1, #rep.failed)
    assert.equal("net.vnet", rep.failed[1].addr)
    assert.equal("ws", rep.skipped[1].addr)
    assert.is_not_nil(st.doc.resources.rg)
    assert.is_not_nil(st.doc.resources.other)
    assert.is_nil(st.doc.resources.ws)
    assert.matches("1 failed, 1 skipped", render.report(rep))
    cloud.fail["net.vnet"] = nil
    local p2 = engine.plan({}, s, st.doc)
    assert.equal(2, p2.summary.create)
    assert.is_true(engine.apply({}, s, st, p2).ok)
    assert.equal(0, engine.plan({}, s, st.doc).changes)
  end)

  it("--target plans the target and its dependencies only", function()
    local s = estate()
    local st = new_state()
    local p = engine.plan({}, s, st.doc, { targets = { "net.vnet" } })
    local addrs = {}
    for _, a in ipairs(p.actions) do addrs[#addrs + 1] = a.addr end
    assert.same({ "rg", "net.vnet" }, addrs)
    local ok, e = pcall(engine.plan, {}, s, st.doc, { targets = { "nope" } })
    assert.is_false(ok)
    assert.equal("UNKNOWN_TARGET", e.code)
  end)

  it("refuses a stale plan (state serial changed) and a changed configuration", function()
    local s = estate()
    local st = new_state()
    local p = engine.plan({}, s, st.doc)
    engine.check_plan(p, st.doc, s)
    st:put("x", { id = "/x", provider = "fake", type = "thing" })
    local ok, e = pcall(engine.check_plan, p, st.doc, s)
    assert.is_false(ok)
    assert.equal("STALE_PLAN", e.code)
    local p2 = engine.plan({}, s, st.doc)
    local s2 = estate({ location = "northeurope" })
    local ok2, e2 = pcall(engine.check_plan, p2, st.doc, s2)
    assert.is_false(ok2)
    assert.matches("configuration", e2.message)
  end)

  it("destroy deletes in reverse dependency order and forgets retained resources", function()
    local s, r = estate()
    r.other.retain = true
    local st = new_state()
    engine.apply({}, s, st, engine.plan({}, s, st.doc))
    cloud.calls = {}
    local p = engine.plan({}, s, st.doc, { destroy = true })
    assert.equal(3, p.summary.delete)
    assert.equal(1, p.summary.forget)
    assert.is_true(engine.apply({}, s, st, p).ok)
    assert.same({ "delete /rg/ws", "delete /rg/vnet", "delete /rg" }, cloud.calls)
    assert.is_not_nil(cloud.objects["/other"])
    assert.is_nil(next(st.doc.resources))
  end)

  it("import adopts an object by id into state", function()
    local s = estate()
    cloud.objects["/other"] = { id = "/other", x = 1 }
    local st = new_state()
    engine.import({}, s, st, "other", "/other")
    assert.equal("/other", st.doc.resources.other.id)
    local ok, e = pcall(engine.import, {}, s, st, "nope", "/x")
    assert.is_false(ok)
    assert.equal("UNKNOWN_TARGET", e.code)
  end)
end)

describe("deploy state", function()
  it("refuses a second lock holder, naming the holder and since", function()
    local store = state.memory_store()
    local a = state.new(store, "prod", { holder = "alice" })
    a:lock()
    local b = state.new(store, "prod", { holder = "bob" })
    local ok, e = pcall(b.lock, b)
    assert.is_false(ok)
    assert.equal("LOCKED", e.code)
    assert.equal("alice", e.holder)
    assert.matches("locked by alice since", e.message)
    b:force_unlock()
    b:lock()
  end)

  it("detects a concurrent write through the ETag", function()
    local store = state.memory_store()
    local a = state.new(store, "prod")
    a:load(); a:save()
    local b = state.new(store, "prod")
    b:load(); b:save()
    local ok, e = pcall(a.save, a)
    assert.is_false(ok)
    assert.equal("STATE_CONFLICT", e.code)
  end)
end)

describe("deploy diff of empty collections", function()
  it("a declared empty list or object matches an absent value, not a non-empty one", function()
    assert.same({}, diff.compare({ a = {}, b = { c = {} } }, { b = {} }))
    assert.equal(1, #diff.compare({ a = {} }, { a = { "x" } }))
  end)
end)

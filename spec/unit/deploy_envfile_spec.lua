-- Environment validation: each rule has a case that fails with a specific message (file, key,
-- what was expected) and the shipped env files pass.
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
if not pcall(require, "json") then package.preload.json = function() return require("cjson") end end

local envm = require("deploy.envfile")
local cidr = require("deploy.cidr")

local function base()
  return {
    name = "prod", role = "primary", peer = "dr", region = "westeurope", prefix = "drh",
    hub = { cidr = "10.10.0.0/22" },
    spokes = { a = { cidr = "10.11.0.0/20" }, b = { cidr = "10.12.0.0/20" } },
    identities = { admin_group = "admins", databricks_sp_object_id_env = "X_SP", replication_sp_app_id_env = "X_APP" },
    firewall = { allowed_fqdns = { "pypi-mirror.example.com" } },
  }
end

local function peer()
  local p = base()
  p.name, p.role, p.peer, p.region = "dr", "secondary", "prod", "northeurope"
  p.hub = { cidr = "10.20.0.0/22" }
  p.spokes = { a = { cidr = "10.21.0.0/20" } }
  p.replication = "env/dr.replication.lua"
  p.replication_schedule = { quartz_cron = "0 0 * * * ?", timezone = "UTC" }
  return p
end

local function problems(env, p)
  local ok, e = pcall(envm.validate, env, "env/prod.lua", p, "env/dr.lua")
  if ok then return nil end
  assert.equal("ENV_INVALID", e.code)
  return e.message
end

describe("deploy env validation", function()
  it("accepts a well-formed pair", function()
    assert.is_nil(problems(base(), peer()))
    assert.is_nil(problems(peer(), base()))
  end)

  it("accepts the shipped env files (prod and dr validated against each other)", function()
    local p = envm.load("prod")
    local d = envm.load("dr")
    assert.equal("dr", p.peer_env.name)
    assert.equal("env/dr.replication.lua", d.replication)
  end)

  it("refuses an unknown region, naming file and key", function()
    local e = base(); e.region = "westeuropa"
    assert.matches("env/prod.lua: region: expected an Azure region where Databricks is available.*'westeuropa'",
      problems(e, peer()))
  end)

  it("refuses an empty spokes map", function()
    local e = base(); e.spokes = {}
    assert.matches("env/prod.lua: spokes: expected at least one spoke %(the map is empty%)", problems(e, peer()))
  end)

  it("refuses a missing key", function()
    local e = base(); e.identities = nil
    assert.matches("env/prod.lua: identities: expected a table", problems(e, peer()))
    local e2 = base(); e2.firewall = nil
    assert.matches("firewall.allowed_fqdns: expected a list of host names", problems(e2, peer()))
  end)

  it("refuses malformed CIDRs with the reason", function()
    local e = base(); e.spokes.a.cidr = "10.11.0.1/20"
    assert.matches("spokes.a.cidr: expected an IPv4 CIDR.*host bits set", problems(e, peer()))
    local e2 = base(); e2.hub.cidr = "10.10.0.0/33"
    assert.matches("hub.cidr: expected an IPv4 CIDR", problems(e2, peer()))
  end)

  it("refuses overlapping CIDRs inside the environment", function()
    local e = base(); e.spokes.b.cidr = "10.11.8.0/21"
    assert.matches("spokes.b.cidr: expected an address space that does not overlap spokes.a.cidr %(10.11.0.0/20%)",
      problems(e, peer()))
    local e2 = base(); e2.hub.cidr = "10.11.0.0/22"
    assert.matches("does not overlap hub.cidr", problems(e2, peer()))
  end)

  it("refuses overlapping CIDRs across prod and dr peers", function()
    local p = peer(); p.spokes.a.cidr = "10.12.0.0/20"
    assert.matches("spokes.b.cidr: expected an address space that does not overlap the peer's spokes.a.cidr " ..
      "%(10.12.0.0/20 in env/dr.lua%)", problems(base(), p))
  end)

  it("refuses the same region as the peer and a peer that does not point back", function()
    local p = peer(); p.region = "westeurope"; p.peer = "other"
    local m = problems(base(), p)
    assert.matches("region: expected a different region than the peer", m)
    assert.matches("peer: expected an environment whose own peer is this one", m)
  end)

  it("refuses unknown keys and wildcards in firewall FQDNs", function()
    local e = base(); e.regoin = "x"; e.firewall.allowed_fqdns = { "*.mirror.example.com" }
    local m = problems(e, peer())
    assert.matches("regoin: expected one of the documented keys", m)
    assert.matches("allowed_fqdns%[1%]: expected a plain host name without wildcards", m)
  end)

  it("requires the replication file and schedule on the secondary only", function()
    local p = peer(); p.replication = nil; p.replication_schedule = nil
    local m = problems(p, base())
    assert.matches("replication: expected the replication config file", m)
    assert.matches("replication_schedule: expected", m)
    local e = base(); e.replication = "env/x.lua"
    assert.matches("replication: expected nothing: only the secondary", problems(e, peer()))
  end)

  it("type-checks keys at every level: a spoke's front_end_private_link = \"false\" is an error", function()
    local e = base(); e.spokes.a.front_end_private_link = "false"
    assert.matches('env/prod.lua: spokes.a.front_end_private_link: expected boolean, got string "false"',
      problems(e, peer()), 1, true)
    local e2 = base(); e2.dbfs_private_endpoints = 1
    assert.matches("env/prod.lua: dbfs_private_endpoints: expected boolean, got number 1", problems(e2, peer()), 1, true)
  end)

  it("refuses an unknown key at any level, naming its full path", function()
    local e = base(); e.hub.cidrs = "10.0.0.0/22"; e.identities.admin_grp = "x"; e.spokes.a.fe_private_link = true
    local m = problems(e, peer())
    assert.matches("env/prod.lua: hub.cidrs: expected one of the known keys (cidr), got unknown key", m, 1, true)
    assert.matches("env/prod.lua: identities.admin_grp: expected one of the known keys", m, 1, true)
    assert.matches("env/prod.lua: spokes.a.fe_private_link: expected one of the known keys", m, 1, true)
    local p = peer(); p.replication_schedule.tz = "UTC"
    assert.matches("env/prod.lua: replication_schedule.tz: expected one of the known keys", problems(p, base()), 1, true)
  end)

  it("reports a wrong type once, not again for what it holds", function()
    local e = base(); e.hub = "10.10.0.0/22"
    local m = problems(e, peer())
    assert.matches("hub: expected a table { cidr = '10.x.0.0/22' }, got string", m, 1, true)
    assert.is_nil(m:find("hub.cidr", 1, true))
  end)

  it("reports every problem at once", function()
    local e = base(); e.region = "mars"; e.spokes = {}; e.prefix = "Bad-Prefix"
    local m = problems(e, peer())
    assert.matches("region", m)
    assert.matches("spokes", m)
    assert.matches("prefix", m)
  end)

  it("cidr helpers: subnet and overlap", function()
    assert.equal("10.11.4.0/22", cidr.subnet("10.11.0.0/20", 2, 1))
    assert.is_true(cidr.overlap("10.0.0.0/16", "10.0.5.0/24"))
    assert.is_false(cidr.overlap("10.0.0.0/16", "10.1.0.0/16"))
  end)
end)

describe("deploy env derived names", function()
  it("refuses a spoke name that would make a storage account name longer than 24 characters", function()
    local ok, e = pcall(envm.validate, {
      name = "prodx", role = "primary", peer = "dr", region = "westeurope", prefix = "abcdef",
      hub = { cidr = "10.10.0.0/22" }, spokes = { verylongnm = { cidr = "10.11.0.0/20" } },
      identities = { admin_group = "a", databricks_sp_object_id_env = "X", replication_sp_app_id_env = "Y" },
      firewall = { allowed_fqdns = { "pypi-mirror.example.com" } } }, "env/prod.lua")
    assert.is_false(ok)
    assert.matches("env/prod.lua: spokes.verylongnm: expected a shorter spoke name: storage account " ..
      "abcdefprodxverylongnmdbfs", e.message)
  end)
end)

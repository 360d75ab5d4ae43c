-- deploy.lua's command line: arguments and files are checked before anything is contacted; usage
-- errors exit 2 on stderr; an unknown environment lists the ones that exist; validate needs no
-- cloud variables.
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
if not pcall(require, "json") then package.preload.json = function() return require("cjson") end end

local cli = require("deploy.cli")

-- a state store that records every call made to it
local function spy_store()
  local calls = {}
  local s = setmetatable({ calls = calls }, { __index = function(_, name)
    return function() calls[#calls + 1] = name; error("the store was contacted (" .. name .. ")", 0) end
  end })
  return s
end

local function usage_error(argv)
  local store = spy_store()
  local ok, e = pcall(cli.main, argv, { store = store, ctx = {}, getenv = function() return nil end })
  assert.is_false(ok, "expected a usage error")
  assert.same({}, store.calls)
  return e
end

local bin = os.getenv("DRHOST_BIN") or "build/drhost"

local function run(args)
  local p = io.popen("env -u AZURE_SUBSCRIPTION_ID DRHOST_STATE=local DRHOST_STATE_DIR=/nonexistent/drhost-spec " ..
    bin .. " scripts/deploy.lua " .. args .. " 2>&1 1>/dev/null; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  return out
end

describe("deploy command line", function()
  it("refuses an unknown command before contacting the state store", function()
    local e = usage_error({ "prod", "plna" })
    assert.equal("USAGE", e.code)
    assert.matches("unknown command plna (commands: apply, destroy", e.message, 1, true)
  end)

  it("refuses wrong arguments and a missing plan file before contacting anything", function()
    assert.matches("import: expected import ADDR ID", usage_error({ "prod", "import", "x" }).message, 1, true)
    assert.matches("state: expected state list | state show ADDR",
      usage_error({ "prod", "state", "show" }).message, 1, true)
    assert.matches("apply: cannot read plan file /nonexistent/plan.json",
      usage_error({ "prod", "apply", "/nonexistent/plan.json" }).message, 1, true)
  end)

  it("names the environments that exist for an unknown one", function()
    local e = usage_error({ "prdo", "plan" })
    assert.equal("USAGE", e.code)
    assert.matches("unknown environment prdo: no env/prdo.lua (environments in env: dr, prod)", e.message, 1, true)
  end)

  it("refuses a broken env file before contacting anything", function()
    local dir = os.tmpname(); os.remove(dir); os.execute("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/prod.lua", "w"))
    f:write("return { name = 'prod', spokes = { a = { front_end_private_link = 'false' } } }")
    f:close()
    local store = spy_store()
    local ok, e = pcall(cli.main, { "prod", "plan", "--env-dir", dir }, { store = store, ctx = {} })
    assert.is_false(ok)
    assert.equal("ENV_INVALID", e.code)
    assert.matches('spokes.a.front_end_private_link: expected boolean, got string "false"', e.message, 1, true)
    assert.same({}, store.calls)
  end)

  it("validates with no cloud variables set", function()
    local ok, code = pcall(cli.main, { "dr", "validate" }, { store = spy_store(), getenv = function() return nil end })
    assert.is_true(ok, tostring(code))
    assert.equal(0, code)
  end)

  it("exits 2 with the usage error on stderr (the host)", function()
    local out = run("prod plna")
    assert.matches("drhost: USAGE: unknown command plna", out, 1, true)
    assert.matches("rc=2", out, 1, true)
    assert.is_nil(out:find("cli.lua", 1, true))
    local out2 = run("")
    assert.matches("no environment given", out2, 1, true)
    assert.matches("rc=2", out2, 1, true)
  end)
end)

describe("deploy while dr is the active region (after a failover)", function()
  local json = require("json")
  local statefile = require("deploy.statefile")
  local compose = require("deploy.compose")
  local VARS = {
    AZURE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001", AZURE_TENANT_ID = "00000000-0000-0000-0000-000000000002",
    DRHOST_DATABRICKS_SP_OBJECT_ID = "00000000-0000-0000-0000-0000000000db",
    DRHOST_REPLICATION_SP_APP_ID = "00000000-0000-0000-0000-0000000000aa",
  }
  local function getenv(n) return VARS[n] end
  local function store_with(active, epoch)
    local mem = statefile.memory_store()
    mem:write("failover/topology.json", json.encode({ format = "drhost-topology", version = 1, active = active, epoch = epoch }))
    return mem
  end

  it("reads the active region from the topology records", function()
    local env = require("deploy.envfile").load("dr")
    assert.equal("dr", cli.active_region(env, { store = store_with("dr", 1) }))
    assert.equal("prod", cli.active_region(env, { store = statefile.memory_store() }))
  end)

  it("refuses to create the replication job in the active region", function()
    local ok, e = pcall(cli.main, { "dr", "plan" }, { store = store_with("dr", 1), ctx = {}, getenv = getenv })
    assert.is_false(ok)
    assert.equal("REFUSED", e.code)
    assert.matches("dr is the active region", e.message)
    assert.matches("failover.lua failback", e.message, 1, true)
  end)

  it("keeps the replication job paused there, and scheduled when prod is active", function()
    local env = require("deploy.envfile").load("dr")
    local paused = compose.build(env, { getenv = getenv, active_region = "dr" }).by_addr["replication.job"].body
    assert.equal("PAUSED", paused.schedule.pause_status)
    local running = compose.build(env, { getenv = getenv, active_region = "prod" }).by_addr["replication.job"].body
    assert.equal("UNPAUSED", running.schedule.pause_status)
  end)
end)

-- Fault specs against the simulator: a run killed mid-apply resumes to the same end state; two
-- concurrent runs -> one refused by the lock; a drifted property is reported by refresh and
-- repaired by apply; a 429 storm is ridden out.
local H = require("spec.integration.deploy_helpers")
local state = require("deploy.statefile")

local describe_sim = H.available() and describe or pending

local function open_store(fx)
  local blobstate = require("blobstate")
  if os.getenv("DRHOST_BLOB_ENDPOINT") then
    return blobstate.open{ endpoint = os.getenv("DRHOST_BLOB_ENDPOINT"), container = "drhost-it-" .. fx.primary,
      account = os.getenv("DRHOST_BLOB_ACCOUNT"), key = os.getenv("DRHOST_BLOB_KEY") }
  end
  return blobstate.open{ path = fx.state_dir }
end

local function count(list) return #list end

describe_sim("deploy under faults", function()
  local fx, declared

  setup(function()
    fx = H.fixture("it2", { regions = { "francecentral", "germanywestcentral" }, base = 100, spokes = 1 })
    declared = H.declared(fx, fx.primary)
  end)

  teardown(function() H.admin("DELETE", "/faults") end)

  it("a run killed mid-apply resumes to the same end state", function()
    H.admin("POST", "/faults", { host_kind = "management", method = "PUT", latency_ms = 400 })
    local pid = H.spawn(fx, fx.primary, "apply")
    assert.is_number(pid)
    -- kill it once a few resources are in state (the state is written after each one)
    for _ = 1, 120 do
      H.sleep(1)
      if count(H.state_doc(fx, fx.primary)) >= 5 then break end
    end
    os.execute("kill -9 " .. pid)
    H.sleep(1)
    H.admin("DELETE", "/faults")
    local partial = count(H.state_doc(fx, fx.primary))
    assert.is_true(partial > 0, "state written during the run")
    assert.is_true(partial < declared, "killed before the end (" .. partial .. " of " .. declared .. ")")
    local rc, out = H.run(fx, fx.primary, "force-unlock")
    assert.equal(0, rc, out)
    rc, out = H.run(fx, fx.primary, "apply")
    assert.equal(0, rc, out)
    rc, out = H.run(fx, fx.primary, "plan")
    assert.equal(0, rc, out)
    assert.equal(declared, count(H.state_doc(fx, fx.primary)))
  end)

  it("refuses a second concurrent run, naming the holder and since when", function()
    local st = state.new(open_store(fx), fx.primary, { holder = "spec-holder" })
    st:lock()
    local rc, out = H.run(fx, fx.primary, "plan")
    st:unlock()
    assert.equal(1, rc, out)
    assert.matches("LOCKED", out)
    assert.matches("spec%-holder", out)
    assert.matches("since", out)
    assert.matches("if that run is gone, its lease expires within 60 s, or `force-unlock` breaks it now", out, 1, true)
    assert.is_nil(out:find("traceback", 1, true), out)
    rc, out = H.run(fx, fx.primary, "plan")
    assert.equal(0, rc, out)
  end)

  it("reports a drifted property through refresh and repairs it through apply", function()
    local arm = H.clients().arm
    local rt_id = "/subscriptions/" .. os.getenv("AZURE_SUBSCRIPTION_ID") .. "/resourceGroups/rg-it2-" ..
      fx.primary .. "-hub/providers/Microsoft.Network/routeTables/rt-it2-" .. fx.primary .. "-egress"
    local rt = arm:get(rt_id, "2026-03-01")
    local good = rt.properties.routes[1].properties.nextHopIpAddress
    -- someone points the default route elsewhere, outside drhost
    arm:put(rt_id, "2026-03-01", { location = rt.location, properties = { routes = { { name = "default-via-firewall",
      properties = { addressPrefix = "0.0.0.0/0", nextHopType = "VirtualAppliance", nextHopIpAddress = "10.100.0.99" } } } } })
    local rc, out = H.run(fx, fx.primary, "refresh")
    assert.equal(2, rc, out)
    assert.matches("hub.route_table", out)
    assert.matches("nextHopIpAddress", out)
    assert.matches("10.100.0.99", out)
    rc, out = H.run(fx, fx.primary, "apply")
    assert.equal(0, rc, out)
    assert.matches("1 update", out)
    assert.equal(good, arm:get(rt_id, "2026-03-01").properties.routes[1].properties.nextHopIpAddress)
    rc, out = H.run(fx, fx.primary, "plan")
    assert.equal(0, rc, out)
  end)

  it("imports an existing resource into state by its id", function()
    local arm = H.clients().arm
    local id = "/subscriptions/" .. os.getenv("AZURE_SUBSCRIPTION_ID") .. "/resourceGroups/rg-it2-" .. fx.secondary .. "-hub"
    arm:put(id, "2025-04-01", { location = "germanywestcentral" })
    local rc, out = H.run(fx, fx.secondary, "import hub.rg " .. id)
    assert.equal(0, rc, out)
    local addrs = H.state_doc(fx, fx.secondary)
    assert.same({ "hub.rg" }, addrs)
    rc, out = H.run(fx, fx.secondary, "plan --compact")
    assert.equal(2, rc, out)
    assert.matches("# hub.rg will be updated in%-place %(.*tags", out)   -- imported as it was: our tags differ
    rc, out = H.run(fx, fx.secondary, "import hub.nope " .. id)
    assert.equal(1, rc, out)
    assert.matches("UNKNOWN_TARGET", out)
  end)

  it("rides out a 429 storm (Retry-After) on ARM and the account API", function()
    -- a throttled call every few calls (429, Retry-After: 0), spread so that no one request can
    -- meet more throttles in a row than the retry policy rides out (a random rate made this a
    -- lottery: 0.3^5 per request over hundreds of requests)
    local ids = {}
    for i = 1, 20 do
      local _, r = H.admin("POST", "/faults", { host_kind = "management", retry_after = 0, nth = 3 * i })
      ids[r.id] = true
    end
    for i = 1, 5 do
      local _, r = H.admin("POST", "/faults", { host_kind = "accounts", retry_after = 0, nth = 2 * i })
      ids[r.id] = true
    end
    local rc, out = H.run(fx, fx.secondary, "apply")
    local _, rules = H.admin("GET", "/faults")
    H.admin("DELETE", "/faults")
    assert.equal(0, rc, out)
    local fired = 0
    for _, r in ipairs(rules and rules.faults or {}) do
      if ids[r.id] then fired = fired + r.fired end
    end
    assert.is_true(fired > 10, "the storm hit (" .. fired .. " throttled requests)")
    rc, out = H.run(fx, fx.secondary, "plan")
    assert.equal(0, rc, out)
  end)
end)

-- luacheck: max line length 160
-- Workspace-asset parity against the simulator: the example bundle deployed to a prod and a dr
-- workspace by the CLI stand-in (tools/bundle-deploy-sim.py), then drift made through the REST
-- APIs and found by failover.parity and by scripts/parity.lua. Run under tools/with-sim.sh.
local parity = require("failover.parity")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")
local PY = os.getenv("DRHOST_PYTHON") or ".venv/bin/python"

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return (ok and 0 or code), out
end

local function deploy(host, target)
  local code, out = sh(string.format("%s tools/bundle-deploy-sim.py --host %q --target %s --var run_as_sp=%s-sp",
    PY, host, target, target))
  assert(code == 0, out)
  return out
end

local function problems(f)
  local out = {}
  for _, x in ipairs(f) do out[#out + 1] = x.kind .. ":" .. x.name .. ":" .. x.problem end
  table.sort(out)
  return out
end

local function job_by_name(ws, name)
  local j = ws:list("/api/2.2/jobs/list", { name = name }, "jobs")[1]
  return j and ws:get("/api/2.2/jobs/get", { job_id = tostring(j.job_id) })
end

describe("failover.parity (simulator)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end
  local estate, p, d
  setup(function()
    estate = dofile("spec/integration/cloud_estate.lua")
    p = estate.workspace("par-prod", "westeurope")
    d = estate.workspace("par-dr", "northeurope")
  end)

  it("the bundle deployed to both regions: the same job, paused in dr, no findings", function()
    assert.matches("created job %d+; schedule UNPAUSED", deploy(p.host, "prod"))
    assert.matches("created job %d+; schedule PAUSED", deploy(d.host, "dr"))
    assert.matches("updated job", deploy(d.host, "dr"))          -- a second deploy resets, never duplicates
    local pj, dj = job_by_name(p.ws, "daily-revenue-rollup"), job_by_name(d.ws, "daily-revenue-rollup")
    assert.are.equal("UNPAUSED", pj.settings.schedule.pause_status)
    assert.are.equal("PAUSED", dj.settings.schedule.pause_status)
    assert.are.equal("BUNDLE", dj.settings.deployment.kind)
    assert.are.equal(1, #d.ws:list("/api/2.2/jobs/list", { name = "daily-revenue-rollup" }, "jobs"))
    local f = parity.compare(p.ws, d.ws, { spoke = "sales" })
    assert.are.same({}, problems(f))
    assert.are.equal(1, f.checked.sales.jobs)
  end)

  it("drift in dr: a resumed job, a missing policy, a missing secret key, a resized warehouse", function()
    local dj = job_by_name(d.ws, "daily-revenue-rollup")
    local sched = dj.settings.schedule
    sched.pause_status = "UNPAUSED"
    d.ws:post("/api/2.2/jobs/update", { job_id = dj.job_id, new_settings = { schedule = sched } })
    p.ws:post("/api/2.0/policies/clusters/create", { name = "jobs-small",
      definition = '{"autotermination_minutes":{"type":"range","maxValue":60}}' })
    for _, ws in ipairs({ p.ws, d.ws }) do
      ws:post("/api/2.0/secrets/scopes/create", { scope = "etl" })
      ws:post("/api/2.0/secrets/put", { scope = "etl", key = "api-key", string_value = "prod-value" })
      ws:post("/api/2.0/sql/warehouses", { name = "bi", cluster_size = ws == p.ws and "Small" or "2X-Small" })
    end
    p.ws:post("/api/2.0/secrets/put", { scope = "etl", key = "db-password", string_value = "never-shown" })
    local f = parity.compare(p.ws, d.ws, { spoke = "sales" })
    assert.are.same({ "cluster_policy:jobs-small:missing_in_dr", "job:daily-revenue-rollup:unpaused_in_dr",
      "secret_scope:etl:keys_missing_in_dr", "warehouse:bi:definition_differs" }, problems(f))
    local text = parity.render(f)
    assert.matches("schedule is UNPAUSED in dr", text)
    assert.not_matches("never%-shown", text)
    assert.not_matches("prod%-value", text)
  end)

  it("scripts/parity.lua: exit 1 with the table, exit 0 once dr is redeployed and fixed", function()
    local cmd = string.format("build/drhost scripts/parity.lua --pair sales=%s,%s", p.host, d.host)
    local code, out = sh(cmd)
    assert.are.equal(1, code, out)
    assert.matches("SPOKE%s+KIND%s+NAME", out)
    assert.matches("unpaused_in_dr", out)
    deploy(d.host, "dr")
    d.ws:post("/api/2.0/policies/clusters/create", { name = "jobs-small",
      definition = '{"autotermination_minutes":{"maxValue":60,"type":"range"}}' })
    d.ws:post("/api/2.0/secrets/put", { scope = "etl", key = "db-password", string_value = "dr-value" })
    for _, w in ipairs(d.ws:list("/api/2.0/sql/warehouses", nil, "warehouses")) do
      if w.name == "bi" then d.ws:post("/api/2.0/sql/warehouses/" .. w.id .. "/edit", { cluster_size = "Small" }) end
    end
    code, out = sh(cmd .. " --json")
    assert.are.equal(0, code, out)
    assert.matches('"errors":0', out)
    code, out = sh("build/drhost scripts/parity.lua --pair nonsense")
    assert.are.equal(2, code, out)
  end)
end)

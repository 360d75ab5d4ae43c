-- luacheck: max line length 160
-- failover.parity against fake workspace clients: each kind of difference is one finding.
local parity = require("failover.parity")

-- a fake databricks.workspace client over plain tables
local function fake(t)
  local ws = { host = t.host or "https://fake", calls = {} }
  local jobs = t.jobs or {}
  function ws.list(_, path)
    ws.calls[#ws.calls + 1] = path
    if t.down then error({ status = 503, message = "Service Unavailable" }, 0) end
    if path:match("/jobs/list$") then
      local out = {}
      for i, j in ipairs(jobs) do out[i] = { job_id = i } ; local _ = j end
      return out
    elseif path:match("policies/clusters/list$") then return t.policies or {}
    elseif path:match("sql/warehouses$") then return t.warehouses or {}
    elseif path:match("scopes/list$") then return t.scopes or {} end
    error("unexpected " .. path)
  end
  function ws.all(_, reqs)
    local out = {}
    for i, r in ipairs(reqs) do
      ws.calls[#ws.calls + 1] = r.path
      assert(not r.path:match("/secrets/get"), "parity must never read a secret value")
      if r.path:match("/jobs/get$") then
        out[i] = { body = { job_id = tonumber(r.query.job_id), settings = jobs[tonumber(r.query.job_id)] } }
      elseif r.path:match("/secrets/list$") then
        local ks = {}
        for _, k in ipairs((t.keys or {})[r.query.scope] or {}) do ks[#ks + 1] = { key = k } end
        out[i] = { body = { secrets = ks } }
      end
    end
    return out
  end
  return ws
end

local function job(over)
  local j = { name = "daily-revenue-rollup", max_concurrent_runs = 1,
    schedule = { quartz_cron_expression = "0 30 2 * * ?", timezone_id = "UTC", pause_status = "UNPAUSED" },
    run_as = { service_principal_name = "prod-sp" }, tags = { region_role = "primary", team = "sales" },
    tasks = { { task_key = "rollup", python_wheel_task = { package_name = "revenue_rollup", entry_point = "revenue-rollup" } },
              { task_key = "report", sql_task = { warehouse_id = "wh-p", query = { query_id = "q" } } } } }
  for k, v in pairs(over or {}) do j[k] = v end
  return j
end

local function dr_job(over)
  local j = job({ schedule = { quartz_cron_expression = "0 30 2 * * ?", timezone_id = "UTC", pause_status = "PAUSED" },
    run_as = { service_principal_name = "dr-sp" }, tags = { region_role = "standby", team = "sales" } })
  j.tasks = { j.tasks[2], j.tasks[1] }          -- order does not matter
  j.tasks[1] = { task_key = "report", sql_task = { warehouse_id = "wh-d", query = { query_id = "q" } } }
  for k, v in pairs(over or {}) do j[k] = v end
  return j
end

local function sides(p_over, d_over)
  local p = { jobs = { job() }, policies = { { policy_id = "P1", name = "jobs-small", definition = '{"a":{"type":"fixed","value":1}}' } },
    warehouses = { { id = "wh-p", name = "bi", cluster_size = "Small", warehouse_type = "PRO" } },
    scopes = { { name = "etl", backend_type = "AZURE_KEYVAULT" } }, keys = { etl = { "api-key", "db-password" } } }
  local d = { jobs = { dr_job() }, policies = { { policy_id = "D9", name = "jobs-small", definition = '{ "a": {"value":1, "type":"fixed"}}' } },
    warehouses = { { id = "wh-d", name = "bi", cluster_size = "Small", warehouse_type = "PRO" },
                   { id = "r", name = "drhost-replication", cluster_size = "2X-Small" } },
    scopes = { { name = "etl", backend_type = "AZURE_KEYVAULT" }, { name = "drhost", backend_type = "DATABRICKS" } },
    keys = { etl = { "db-password", "api-key" }, drhost = { "azure-client-id" } } }
  for k, v in pairs(p_over or {}) do p[k] = v end
  for k, v in pairs(d_over or {}) do d[k] = v end
  return fake(p), fake(d)
end

local function problems(f)
  local out = {}
  for _, x in ipairs(f) do out[#out + 1] = x.kind .. ":" .. x.name .. ":" .. x.problem end
  table.sort(out)
  return out
end

describe("failover.parity", function()
  it("finds nothing when dr mirrors prod (ids by name, regional fields, key order, drhost's own assets)", function()
    local p, d = sides()
    local f = parity.compare(p, d, { spoke = "sales" })
    assert.are.same({}, problems(f))
    assert.are.same({ jobs = 1, cluster_policies = 1, warehouses = 1, secret_scopes = 1 }, f.checked.sales)
    assert.matches("parity: dr mirrors prod %(1 spoke%(s%): 1 jobs, 1 cluster policies, 1 warehouses, 1 secret scopes%)", parity.render(f))
  end)

  it("an unpaused dr job is a finding, with what to do", function()
    local p, d = sides(nil, { jobs = { dr_job({ schedule = { quartz_cron_expression = "0 30 2 * * ?", timezone_id = "UTC" } }) } })
    local f = parity.compare(p, d, { spoke = "sales" })
    assert.are.same({ "job:daily-revenue-rollup:unpaused_in_dr" }, problems(f))
    assert.matches("schedule is UNPAUSED in dr", f[1].detail)
    assert.matches("trigger_pause_status: PAUSED", f[1].action)
    assert.are.equal(1, parity.errors(f))
  end)

  it("an unpaused dr trigger (file arrival, not a schedule) is a finding too", function()
    local trig = function(ps) return { file_arrival = { url = "/Volumes/ops/landing/orders/" }, pause_status = ps } end
    local function triggered(j, ps) j.schedule = nil; j.trigger = trig(ps); return j end
    local p, d = sides({ jobs = { triggered(job(), "UNPAUSED") } }, { jobs = { triggered(dr_job(), "UNPAUSED") } })
    local f = parity.compare(p, d, { spoke = "sales" })
    assert.are.same({ "job:daily-revenue-rollup:unpaused_in_dr" }, problems(f))
    assert.matches("trigger is UNPAUSED in dr", f[1].detail)
    assert.matches("trigger.pause_status PAUSED", f[1].action)
    -- paused in dr: clean
    p, d = sides({ jobs = { triggered(job(), "UNPAUSED") } }, { jobs = { triggered(dr_job(), "PAUSED") } })
    assert.are.same({}, problems(parity.compare(p, d, { spoke = "sales" })))
  end)

  it("a missing job, a differing definition, a dr-only job", function()
    local p, d = sides({ jobs = { job(), job({ name = "hourly" }) } },
      { jobs = { dr_job({ max_concurrent_runs = 3 }), dr_job({ name = "dr-only" }) } })
    local f = parity.compare(p, d, {})
    assert.are.same({ "job:daily-revenue-rollup:definition_differs", "job:dr-only:only_in_dr", "job:hourly:missing_in_dr" }, problems(f))
    for _, x in ipairs(f) do
      if x.problem == "definition_differs" then assert.matches("max_concurrent_runs", x.detail) end
    end
  end)

  it("a task pointing at another warehouse (by name) differs", function()
    local dj = dr_job()
    dj.tasks[1].sql_task.warehouse_id = "wh-x"
    local p, d = sides(nil, { jobs = { dj }, warehouses = { { id = "wh-d", name = "bi", cluster_size = "Small", warehouse_type = "PRO" },
                                                             { id = "wh-x", name = "other", cluster_size = "Small" } } })
    local f = parity.compare(p, d, {})
    local got = problems(f)
    assert.are.same({ "job:daily-revenue-rollup:definition_differs", "warehouse:other:only_in_dr" }, got)
    assert.matches("tasks%[0%]%.sql_task%.warehouse_id", f[1].detail)   -- tasks sorted by task_key
  end)

  it("cluster policies, warehouses and secret scopes: missing, differing, keys missing; values never read", function()
    local p, d = sides({ policies = { { policy_id = "P1", name = "jobs-small", definition = '{"a":{"type":"fixed","value":2}}' },
                                      { policy_id = "P2", name = "gpu", definition = "{}" } } },
      { warehouses = { { id = "wh-d", name = "bi", cluster_size = "Medium", warehouse_type = "PRO" } },
        scopes = { { name = "etl", backend_type = "DATABRICKS" } }, keys = { etl = { "api-key" } } })
    local f = parity.compare(p, d, { spoke = "s1" })
    assert.are.same({ "cluster_policy:gpu:missing_in_dr", "cluster_policy:jobs-small:definition_differs",
      "secret_scope:etl:backend_differs", "secret_scope:etl:keys_missing_in_dr", "warehouse:bi:definition_differs" }, problems(f))
    local text = parity.render(f)
    assert.matches("keys missing in dr: db%-password", text)
    assert.matches("parity: 5 finding%(s%), 4 error%(s%)", text)
    assert.not_matches("api%-key.*value", text)
    for _, c in ipairs(d.calls) do assert.not_matches("secrets/get", c) end
  end)

  it("an unreachable workspace is one finding naming it", function()
    local p = sides()
    local d = fake({ host = "https://dr-ws", down = true })
    local f = parity.compare(p, d, { spoke = "sales" })
    assert.are.same({ "workspace:https://dr-ws:unreachable" }, problems(f))
    assert.matches("503 Service Unavailable", f[1].detail)
  end)

  it("exclusions and several spokes; drhost's own jobs (tagged managed-by drhost) are skipped", function()
    local p, d = sides(nil, { jobs = { dr_job(), { name = "drhost-replication-dr", tags = { ["managed-by"] = "drhost" },
      schedule = { quartz_cron_expression = "0 0 * * * ?", timezone_id = "UTC", pause_status = "UNPAUSED" } },
      { name = "local-maint", schedule = { quartz_cron_expression = "0 0 * * * ?", timezone_id = "UTC" } } } })
    local f = parity.compare_all({ { spoke = "a", prod = p, dr = d }, { spoke = "b", prod = p, dr = d } },
      { exclude = { jobs = { "local-maint" } } })
    assert.are.same({}, problems(f))
    assert.are.same({ "a", "b" }, (function() local k = {} for n in pairs(f.checked) do k[#k + 1] = n end table.sort(k) return k end)())
  end)

  it("standby_jobs: the jobs with a schedule, trigger or continuous block and their pause state", function()
    local _, d = sides(nil, { jobs = { dr_job(), { name = "adhoc", tasks = {} },
      { name = "stream", continuous = { pause_status = "PAUSED" } },
      { name = "drhost-replication-dr", tags = { ["managed-by"] = "drhost" }, schedule = { pause_status = "UNPAUSED" } } } })
    local got = parity.standby_jobs(d)
    assert.are.same({ { job_id = 1, name = "daily-revenue-rollup", fields = { { field = "schedule", status = "PAUSED" } } },
      { job_id = 3, name = "stream", fields = { { field = "continuous", status = "PAUSED" } } } }, got)
  end)
end)

-- Failover, failback and drills against the simulator (scripts/failover.lua as a child process, so
-- exit codes and kills are real). The estate: the hermetic replication workspaces of
-- replicate_helper (one per region), their deployment outputs written into per-spec state stores
-- (one container per region), a replication job and a workload job per region. Run under
-- tools/with-sim.sh.
local H = dofile("spec/integration/replicate_helper.lua")
local json = require("json")
local statefile = require("deploy.statefile")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")
local JOBS = "/api/2.2/jobs"

describe("failover.lua (simulator)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end
  local ctx, F = nil, {}

  local function getenv(k) return F.vars[k] or os.getenv(k) end
  local function store(name) return statefile.open_store(getenv, name) end
  local function doc(name, path)
    local body = store(name):read(path)
    return body and json.decode(body) or nil
  end
  local function prefix(extra)
    local parts = {}
    for k, v in pairs(F.vars) do parts[#parts + 1] = k .. "=" .. v end
    for k, v in pairs(extra or {}) do parts[#parts + 1] = k .. "=" .. v end
    table.sort(parts)
    return "env " .. table.concat(parts, " ") .. " "
  end
  local function slurp(p) local f = io.open(p); local s = f and f:read("a") or ""; if f then f:close() end; os.remove(p); return s end
  -- run failover.lua: rc, decoded --json (or nil), stdout, stderr
  local function fo(args, extra)
    local out, err = os.tmpname(), os.tmpname()
    local ok, how, code = os.execute(string.format("%s%s scripts/failover.lua %s --env-dir %s --config %s >%s 2>%s",
      prefix(extra), H.BIN, args, F.env_dir, ctx.config, out, err))
    local so, se = slurp(out), slurp(err)
    local okj, d = pcall(json.decode, so)
    return ok and 0 or (how == "exit" and code or 128 + (code or 0)), okj and type(d) == "table" and d or nil, so, se
  end
  local function job(ws, id) return ws:get(JOBS .. "/get", { job_id = tostring(id) }).settings end
  local function pause_of(ws, id) return job(ws, id).schedule.pause_status end
  local function set_pause(ws, id, status)
    local s = job(ws, id).schedule
    s.pause_status = status
    ws:post(JOBS .. "/update", { job_id = id, new_settings = { schedule = s } })
  end
  local function binding(ws, cat, ws_id)
    for _, b in ipairs(ws:get("/api/2.1/unity-catalog/bindings/catalog/" .. cat).bindings or {}) do
      if tostring(b.workspace_id) == tostring(ws_id) then return b.binding_type end
    end
  end
  local function cname()
    return F.arm:get(F.zone .. "/CNAME/databricks", "2018-05-01").properties.CNAMERecord.cname
  end
  local function host_of(url) return (url:gsub("^https://", ""):gsub(":.*$", "")) end
  local function check(d, name)
    for _, c in ipairs(d and d.checks or {}) do if c.name == name then return c end end
  end
  local function step(d, name)
    for _, s in ipairs(d and d.steps or {}) do if s.name == name then return s end end
  end

  setup(function()
    ctx = H.setup("fo")
    H.seed_prod(ctx)
    F.vars = { DRHOST_PROD_STATE_CONTAINER = "fo" .. ctx.id .. "-prod", DRHOST_DR_STATE_CONTAINER = "fo" .. ctx.id .. "-dr" }
    -- env files: the repository's, dr with a recovery point objective
    F.env_dir = os.tmpname()
    os.remove(F.env_dir)
    assert(os.execute("mkdir -p " .. F.env_dir))
    -- the entry point: a public DNS zone with the CNAME the deployment of prod creates
    local sub = os.getenv("AZURE_SUBSCRIPTION_ID")
    F.arm = require("azure").client{ credential = require("auth").from_env() }
    local rg = "/subscriptions/" .. sub .. "/resourceGroups/rg-fo-" .. ctx.id
    F.zone = rg .. "/providers/Microsoft.Network/dnsZones/fo" .. ctx.id .. ".example.com"
    F.arm:put(rg, "2021-04-01", { location = "westeurope" })
    F.arm:put(F.zone, "2018-05-01", { location = "global" })
    F.arm:put(F.zone .. "/CNAME/databricks", "2018-05-01",
      { properties = { TTL = 60, CNAMERecord = { cname = ctx.src.host:gsub("^https://", ""):gsub(":.*$", "") } } })
    for _, n in ipairs({ "prod", "dr" }) do
      local text = assert(io.open("env/" .. n .. ".lua")):read("a")
      if n == "dr" then text = text:gsub("\n}%s*$", "\n  rpo_target = 900,\n}\n") end
      if n == "prod" then
        text = text:gsub("\n}%s*$", "\n  entry_point = { zone_id = \"" .. F.zone .. "\", record = \"databricks\", ttl = 60 },\n}\n")
      end
      local f = assert(io.open(F.env_dir .. "/" .. n .. ".lua", "w"))
      f:write(text); f:close()
    end
    -- jobs: the replication job in dr (drhost's own), the same workload job in both (paused in dr)
    local sched = { quartz_cron_expression = "0 0 * * * ?", timezone_id = "UTC" }
    local task = { task_key = "t", notebook_task = { notebook_path = "/Workspace/etl" } }
    local function create(ws, name, status, tags)
      return ws:post(JOBS .. "/create", { name = name, tasks = { task }, tags = tags,
        schedule = { quartz_cron_expression = sched.quartz_cron_expression, timezone_id = "UTC", pause_status = status } }).job_id
    end
    F.repl_job = create(ctx.dst.ws, "drhost-replication-" .. ctx.id, "UNPAUSED", { ["managed-by"] = "drhost" })
    F.prod_job = create(ctx.src.ws, "etl-" .. ctx.id, "UNPAUSED")
    F.dr_job = create(ctx.dst.ws, "etl-" .. ctx.id, "PAUSED")
    -- the deployments' outputs, as deploy.lua writes them
    F.ws_id = {}
    for _, side in ipairs({ { "prod", ctx.src }, { "dr", ctx.dst } }) do
      local name, s = side[1], side[2]
      F.ws_id[name] = s.host:match("adb%-(%d+)")
      local st = statefile.new(store(name), name)
      local d = st:load()
      d.outputs = { env = name, workspace_url = s.host, primary_workspace = "main", primary_workspace_url = s.host,
        warehouse_id = s.warehouse_id, workspaces = { main = { url = s.host, workspace_id = F.ws_id[name] } },
        job_id = name == "dr" and F.repl_job or nil }
      st:save()
    end
    -- the sharing back (dr -> prod) that the deployment of dr provisions for a failback
    local psum = ctx.src.ws:get("/api/2.1/unity-catalog/metastore_summary")
    local r = ctx.dst.ws:all({ { method = "POST", path = "/api/2.1/unity-catalog/recipients", body = {
      name = "drhost_prod", authentication_type = "DATABRICKS", data_recipient_global_metastore_id = psum.global_metastore_id } } })[1]
    assert(not r.error or r.status == 409 or tostring(r.error.code) == "RESOURCE_ALREADY_EXISTS", tostring(r.error))
    local rc, _, so, se = H.run(ctx, "sync --json", prefix())
    assert(rc == 0, so .. se)
  end)

  teardown(function()
    if ADMIN then
      H.admin("DELETE", "/outages")
      H.admin("DELETE", "/faults")
    end
  end)

  it("drill on a replicated estate: every check passes, the dry run is timed, the report is kept in both stores", function()
    local rc, d, so, se = fo("drill --json")
    assert.are.equal(0, rc, so .. se)
    for _, c in ipairs(d.checks) do assert.is_true(c.ok, c.name .. ": " .. tostring(c.detail)) end
    assert.are.equal(8, #d.steps)
    assert.is_true(d.rto.dry_run_s > 0)
    assert.is_true(#d.rpo.tables >= 4)
    assert.are.same({ "prod", "dr" }, d.stored.regions)
    assert.matches("gantt", store("dr"):read("failover/reports/latest-drill.md"))
    -- a drill moves nothing
    assert.are.equal("UNPAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.is_nil(doc("dr", "failover/topology.json"))
  end)

  it("verify: tables equal at the recorded versions, grants equal through the mapping, views resolve", function()
    local rc, d, so, se = fo("verify --json")
    assert.are.equal(0, rc, so .. se)
    assert.are.equal(0, d.mismatches)
    assert.is_true(d.metadata.ok)
    assert.is_true(d.metadata.views >= 3)
    -- a grant made in prod and not replicated yet is a difference verify names
    local t = ctx.names.finance .. ".ledger.entries"
    ctx.src.conn:exec("GRANT SELECT ON TABLE " .. t .. " TO `fo-reviewers`")
    rc, d = fo("verify --json")
    ctx.src.conn:exec("REVOKE SELECT ON TABLE " .. t .. " FROM `fo-reviewers`")
    assert.are.equal(3, rc)
    assert.are.equal(1, d.metadata.grants_pending)
  end)

  it("drill preconditions fail one by one, each with its own message", function()
    set_pause(ctx.dst.ws, F.repl_job, "PAUSED")
    local rc, d = fo("drill --json")
    set_pause(ctx.dst.ws, F.repl_job, "UNPAUSED")
    assert.are.equal(3, rc)
    assert.is_false(check(d, "replication_job").ok)
    assert.matches("replication job is paused", check(d, "replication_job").detail)
    assert.is_true(check(d, "jobs_parity").ok)

    set_pause(ctx.dst.ws, F.dr_job, "UNPAUSED")
    rc, d = fo("drill --json")
    set_pause(ctx.dst.ws, F.dr_job, "PAUSED")
    assert.are.equal(3, rc)
    assert.is_false(check(d, "jobs_parity").ok)
    assert.matches("etl%-" .. ctx.id, check(d, "jobs_parity").detail)
    assert.is_true(check(d, "replication_job").ok)

    local t = ctx.names.finance .. ".ledger.entries"
    ctx.dst.conn:exec("INSERT INTO " .. t .. " VALUES (99, 'x', 1.0)")
    rc, d = fo("drill --json")
    ctx.dst.conn:exec("DELETE FROM " .. t .. " WHERE id = 99")
    assert.are.equal(3, rc)
    assert.is_false(check(d, "verify").ok)
    assert.matches(t:gsub("%p", "%%%0") .. ": prod has 3 rows", check(d, "verify").detail)

    store("dr"):write("failover/topology.json", json.encode({ format = "drhost-topology", version = 1, active = "dr", epoch = 0 }))
    rc, d = fo("drill --json")
    assert.are.equal(3, rc)
    assert.matches("dr is the active region", check(d, "topology").detail)
    local _, _, _, se = fo("failover")
    assert.matches("failover refused: dr is already the active region", se)
    store("prod"):write("failover/topology.json", json.encode({ format = "drhost-topology", version = 1, active = "prod", epoch = 0 }))
    rc, d = fo("drill --json")
    assert.are.equal(3, rc)
    assert.matches("both hold epoch 0", check(d, "topology").detail)
    rc = fo("status")
    assert.are.equal(4, rc)
    -- settle it as an operator would: the records agree again
    store("dr"):write("failover/topology.json", json.encode({ format = "drhost-topology", version = 1, active = "prod", epoch = 0 }))
    rc, d = fo("drill --json")
    assert.are.equal(0, rc)
    assert.is_true(check(d, "topology").ok)
  end)

  it("planned failover: prod frozen, final sync, dr active at a new epoch in both stores, RPO nothing lost", function()
    F.plan = os.tmpname()
    local rc, d, so, se = fo("plan failover -out " .. F.plan .. " --json")
    assert.are.equal(0, rc, so .. se)
    assert.are.same({ "failover", 0, false }, { d.action, d.epoch_before, d.forced })
    assert.are.equal("freeze_source", d.steps[1].name)
    assert.are.equal("UNPAUSED", pause_of(ctx.src.ws, F.prod_job))         -- a plan changes nothing
    rc, d, so, se = fo("apply " .. F.plan .. " --json")
    assert.are.equal(0, rc, so .. se)
    assert.are.equal("dr", d.to)
    assert.is_false(d.forced)
    for _, s in ipairs(d.steps) do assert.are.equal("done", s.status, s.name .. ": " .. tostring(s.error)) end
    assert.are.equal(0, d.rpo.worst_s)
    for _, n in ipairs({ "prod", "dr" }) do
      local t = doc(n, "failover/topology.json")
      assert.are.same({ "dr", 1 }, { t.active, t.epoch })
    end
    assert.are.equal("PAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.are.equal("UNPAUSED", pause_of(ctx.dst.ws, F.dr_job))
    assert.are.equal("PAUSED", pause_of(ctx.dst.ws, F.repl_job))
    assert.are.equal("BINDING_TYPE_READ_ONLY", binding(ctx.src.ws, ctx.names.finance, F.ws_id.prod))
    assert.are.equal("BINDING_TYPE_READ_WRITE", binding(ctx.dst.ws, ctx.names.finance, F.ws_id.dr))
    -- the fence holds: prod's workspace cannot write its catalog, dr's can
    local ok, e = pcall(ctx.src.conn.exec, ctx.src.conn, "INSERT INTO " .. ctx.names.finance .. ".ledger.entries VALUES (7, 'p', 1.0)")
    assert.is_false(ok)
    assert.matches("read%-only", tostring(e.message))
    ctx.dst.conn:exec("INSERT INTO " .. ctx.names.finance .. ".ledger.entries VALUES (8, 'written in dr', 2.0)")
    assert.are.equal(host_of(ctx.dst.host), cname())
    local map = doc("dr", "failover/connections.json")
    assert.are.equal("dr", map.active)
    assert.are.equal(ctx.dst.host, map.workspaces.main.url)
    assert.are.equal("/sql/1.0/warehouses/" .. ctx.dst.warehouse_id, map.workspaces.main.http_path)
  end)

  it("after the failover the replication job is refused and writes nothing; a second failover is refused", function()
    local before = #ctx.dst.conn:query("SELECT * FROM " .. ctx.cfg.state.catalog .. ".drhost.replication_state")
    local rc, _, so, se = H.run(ctx, "sync", prefix())
    assert.are_not.equal(0, rc)
    assert.matches("FENCED: replication prod %-> dr refused: dr is the active region %(epoch 1", so .. se)
    assert.are.equal(before, #ctx.dst.conn:query("SELECT * FROM " .. ctx.cfg.state.catalog .. ".drhost.replication_state"))
    rc = fo("failover")
    assert.are.equal(4, rc)
    rc, _, so, se = fo("apply " .. F.plan)                                   -- the plan of epoch 0 is stale now
    assert.are.equal(4, rc, so .. se)
    assert.matches("dr is already the active region %(epoch 1%)", se)
    os.remove(F.plan)
    local _, st = fo("status --json")
    assert.are.equal("dr", st.active)
    assert.are.equal("PAUSED", st.replication_job.pause_status)
  end)

  it("failback without divergence: dr's writes replicated back, prod active at epoch 2, dr standby again", function()
    local rc, d, so, se = fo("failback --json")
    assert.are.equal(0, rc, so .. se)
    for _, s in ipairs(d.steps) do assert.are.equal("done", s.status, s.name .. ": " .. tostring(s.error)) end
    assert.are.equal(0, step(d, "divergence").detail.divergent)
    assert.are.same({ "prod", 2 }, { doc("dr", "failover/topology.json").active, doc("prod", "failover/topology.json").epoch })
    local rows = ctx.src.conn:query("SELECT account FROM " .. ctx.names.finance .. ".ledger.entries WHERE id = 8")
    assert.are.equal("written in dr", rows[1].account)
    assert.are.equal("UNPAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.are.equal("PAUSED", pause_of(ctx.dst.ws, F.dr_job))
    assert.are.equal("UNPAUSED", pause_of(ctx.dst.ws, F.repl_job))
    assert.are.equal("BINDING_TYPE_READ_WRITE", binding(ctx.src.ws, ctx.names.finance, F.ws_id.prod))
    assert.are.equal(host_of(ctx.src.host), cname())
    local _
    rc, _, so, se = H.run(ctx, "sync", prefix())
    assert.are.equal(0, rc, so .. se)
    rc, d, so, se = fo("verify --json")
    assert.are.equal(0, rc, so .. se)
    assert.are.equal(0, d.mismatches)
    assert.is_true(d.metadata.ok)
    assert.is_true(d.metadata.views >= 3)
  end)

  it("forced failover while prod is down; prod comes back stale and is fenced; failback refuses its change, then discards it", function()
    local down = { DRHOST_PROD_BLOB_ENDPOINT = "https://127.0.0.1:9/down" }
    H.admin("POST", "/outages", { region = "westeurope", mode = "hang", hang_s = 30 })
    local t0 = require("http").now()
    local rc, _, _, se = fo("failover")
    assert.are.equal(4, rc)
    assert.matches("prod does not answer", se)
    assert.matches("failover %-%-forced", se)
    assert.is_true(require("http").now() - t0 < 25, "the refusal waited for the hanging region")
    local d, so
    rc, d, so, se = fo("failover --forced --json", down)
    assert.are.equal(0, rc, so .. se)
    assert.is_true(d.forced)
    assert.are.equal("skipped", step(d, "freeze_source").status)
    assert.are.equal("skipped", step(d, "final_sync").status)
    assert.is_true(d.rpo.worst_s >= 0)
    assert.matches("upper bound", d.rpo.basis)
    assert.are.equal(3, doc("dr", "failover/topology.json").epoch)
    assert.are.equal(host_of(ctx.dst.host), cname())          -- DNS is global: it moved while prod was down
    H.admin("DELETE", "/outages")
    -- prod answers again with its old record: stale, and its job still runs
    assert.are.equal(2, doc("prod", "failover/topology.json").epoch)
    local _, st = fo("status --json")
    assert.are.same({ "prod" }, st.stale)
    assert.are.equal("UNPAUSED", pause_of(ctx.src.ws, F.prod_job))
    -- a stale prod cannot push into dr by its old record
    rc, _, so, se = H.run(ctx, "sync", prefix())
    assert.are_not.equal(0, rc)
    assert.matches("FENCED", so .. se)
    local t = ctx.names.finance .. ".ledger.entries"
    ctx.src.conn:exec("UPDATE " .. t .. " SET amount = amount + 1000 WHERE id = 1")
    rc, d, so, se = fo("failback --json")
    assert.are.equal(4, rc, so .. se)
    assert.are.equal("done", step(d, "fence_returned").status)
    assert.are.equal("PAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.are.equal(3, doc("prod", "failover/topology.json").epoch)
    assert.matches(t:gsub("%p", "%%%0") .. " %(version", step(d, "divergence").error)
    assert.matches("%-%-discard%-prod%-changes", step(d, "divergence").error)
    rc, d, so, se = fo("failback --json --discard-prod-changes " .. t)
    assert.are.equal(0, rc, so .. se)
    assert.matches("resuming failback", se)
    assert.are.equal(1, step(d, "reverse_sync").detail.overwritten)
    local rows = ctx.src.conn:query("SELECT amount FROM " .. t .. " WHERE id = 1")
    assert.are.equal(100.0, tonumber(rows[1].amount))
    assert.are.equal("UNPAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.are.same({ "prod", 4 }, { doc("dr", "failover/topology.json").active, doc("dr", "failover/topology.json").epoch })
  end)

  it("a failover killed at every step resumes from its journal and converges", function()
    H.admin("POST", "/faults", { host_kind = "workspace", latency_ms = 60 })
    local journal = "failover/journal-failover.json"
    local kills, last_done = 0, 0
    for _ = 1, 12 do
      local pidfile = os.tmpname()
      os.execute(string.format("(%s%s scripts/failover.lua failover --env-dir %s --config %s >/dev/null 2>&1 & echo $! >%s)",
        prefix(), H.BIN, F.env_dir, ctx.config, pidfile))
      local pid = slurp(pidfile):match("%d+")
      local finished = false
      for _ = 1, 600 do
        require("http").sleep(0.03)
        if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end   -- it ended by itself
        local j = doc("dr", journal)
        local done = 0
        for _, s in ipairs(j and j.epoch_before == 4 and j.steps or {}) do if s.status == "done" then done = done + 1 end end
        if j and j.epoch_before == 4 and j.finished_at then finished = true; break end
        if done > last_done then
          os.execute("kill -9 " .. pid .. " 2>/dev/null")
          kills, last_done = kills + 1, done
          break
        end
      end
      os.execute("sleep 0.2")
      if finished then break end
    end
    H.admin("DELETE", "/faults")
    local j = doc("dr", journal)
    local trail = {}
    for _, s in ipairs(j and j.steps or {}) do trail[#trail + 1] = s.name .. "=" .. s.status .. (s.error and (" " .. s.error) or "") end
    assert.is_truthy(j.finished_at, "the failover never finished: " .. table.concat(trail, "; "))
    assert.is_true(kills >= 4, "only " .. kills .. " kill(s) landed between steps")
    for _, s in ipairs(j.steps) do assert.are.equal("done", s.status, s.name) end
    assert.are.same({ "dr", 5 }, { doc("prod", "failover/topology.json").active, doc("prod", "failover/topology.json").epoch })
    assert.are.equal("PAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.are.equal("UNPAUSED", pause_of(ctx.dst.ws, F.dr_job))
    assert.are.equal("PAUSED", pause_of(ctx.dst.ws, F.repl_job))
    local rc, d, so, se = fo("failback --json")
    assert.are.equal(0, rc, so .. se)
    assert.are.equal("prod", doc("dr", "failover/topology.json").active)
    assert.are.equal(6, d.epoch)
  end)

  it("drill --full: a real planned failover then a failback, prod active again at a higher epoch", function()
    local rc, _, so, se = fo("drill --full")
    assert.are.equal(0, rc, so .. se)
    assert.matches("failover prod %-> dr", so)
    assert.matches("failback dr %-> prod", so)
    local t = doc("prod", "failover/topology.json")
    assert.are.same({ "prod", 8 }, { t.active, t.epoch })
    assert.are.equal("UNPAUSED", pause_of(ctx.src.ws, F.prod_job))
    assert.are.equal("PAUSED", pause_of(ctx.dst.ws, F.dr_job))
    assert.are.equal("UNPAUSED", pause_of(ctx.dst.ws, F.repl_job))
  end)
end)

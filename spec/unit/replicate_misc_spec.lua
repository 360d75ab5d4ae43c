-- sqltext quoting, report helpers, CLI argument parsing, the job settings.
local q = require("replicate.sqltext")
local report = require("replicate.report")
local cli = require("replicate.cli")
local job = require("replicate.job")

describe("replicate.sqltext", function()
  it("quotes names with backticks, doubling them", function()
    assert.are.equal("`a`.`b``c`.`d e`", q.name("a.b`c.d e"))
  end)
  it("refuses control characters and empty parts", function()
    assert.has_error(function() q.ident("a\nb") end)
    assert.has_error(function() q.name("a..b") end)
  end)
  it("escapes literals so they cannot end early", function()
    assert.are.equal([['it\'s a \\ test\n']], q.literal("it's a \\ test\n"))
    assert.are.equal([[('a' = '1', 'b\'' = 'x')]], q.kv_list({ ["b'"] = "x", a = "1" }))
  end)
end)

describe("replicate.report", function()
  it("converts ISO timestamps and epoch milliseconds", function()
    assert.are.equal(0, report.epoch("1970-01-01T00:00:00Z"))
    assert.are.equal(1763856000, report.epoch("2025-11-23T00:00:00.000Z"))
    assert.are.equal(1763856000, report.epoch(1763856000000))
    assert.is_nil(report.epoch("yesterday"))
  end)
  it("renders an empty plan as no changes", function()
    local lines = report.plan_lines({ actions = {}, skipped = {}, failed = {}, counts = {} })
    assert.are.equal("No changes. dr is in step with prod.", lines[1])
  end)
  it("counts summary states and lists failures", function()
    local plan = { actions = { { id = 1, phase = "clone", op = "clone", object = "x", record = { source_version = 2 } },
      { id = 2, phase = "grants", op = "update", object = "y" } }, failed = { { object = "z", reason = "unmapped" } }, skipped = {} }
    local s = report.summary(plan, { [1] = { status = "ok" }, [2] = { status = "failed", error = "403" } })
    assert.are.same({ ok = 1, failed = 2, skipped = 0 }, s.totals)
    assert.are.equal(1, #s.clones)
  end)
end)

describe("replicate.cli", function()
  it("parses commands and options", function()
    local o = cli.parse({ "dr", "plan", "-out", "p.json", "--json" })
    assert.are.same({ env = "dr", command = "plan", out = "p.json", json = true }, o)
    assert.are.equal("x.json", cli.parse({ "dr", "apply", "x.json" }).file)
  end)
  it("refuses bad usage with a specific message", function()
    local function usage(args)
      local ok, e = pcall(cli.parse, args)
      assert.is_false(ok)
      assert.is_true(require("errors").is(e, "USAGE"))
      return e.message
    end
    assert.truthy(usage({}):match("missing ENV"))
    assert.truthy(usage({ "dr", "frobnicate" }):match("unknown or missing COMMAND"))
    assert.truthy(usage({ "dr", "apply" }):match("needs the plan FILE"))
    assert.truthy(usage({ "dr", "plan", "--nope" }):match("unknown option"))
    assert.truthy(usage({ "dr", "plan", "-out" }):match("needs a value"))
  end)
  it("returns exit code 2 on usage errors", function()
    assert.are.equal(2, cli.main({ "dr" }, { stdout = function() end, stderr = function() end }))
  end)
  it("finds the replication config through env/dr.lua", function()
    assert.truthy(cli.config_path({ env = "dr" }):match("env/dr%.replication%.lua$"))
  end)
  it("status rows: in sync has lag 0, behind has lag since the reflected commit", function()
    local rows = cli.status_rows({ tables = {
      { object = "b", source = "a", source_version = 5, cloned_version = 5, in_sync = true },
      { object = "c", source = "a2", source_version = 6, cloned_version = 4, cloned_commit_ts = os.time() - 100 },
    } })
    assert.are.equal("in sync", rows[1].state); assert.are.equal(0, rows[1].lag_s)
    assert.are.equal("behind", rows[2].state); assert.is_true(rows[2].lag_s >= 100 and rows[2].lag_s < 200)
  end)
end)

describe("replicate.job", function()
  local base = { env = { replication_schedule = { quartz_cron = "0 0/30 * * * ?", timezone = "UTC" } },
    source_host = "https://adb-1.example", target_host = "https://adb-2.example",
    source_warehouse_id = "w1", target_warehouse_id = "w2", notify = { "oncall@example.com" } }
  it("builds a scheduled launcher job with secrets from the scope", function()
    local s = job.settings(base)
    assert.are.equal("0 0/30 * * * ?", s.schedule.quartz_cron_expression)
    assert.are.equal(1, s.max_concurrent_runs)
    assert.are.same({ "oncall@example.com" }, s.email_notifications.on_failure)
    local t = s.tasks[1]
    assert.are.same({ "/Workspace/Shared/drhost/bin/drhost", "scripts/replicate.lua", "dr", "sync", "--json" },
      t.spark_python_task.parameters)
    local ev = s.job_clusters[1].new_cluster.spark_env_vars
    assert.are.equal("{{secrets/drhost/azure-client-secret}}", ev.AZURE_CLIENT_SECRET)
    assert.are.equal("w2", ev.DRHOST_TARGET_WAREHOUSE_ID)
  end)
  it("passes extra environment but never lets it replace the credentials", function()
    local opts = {}
    for k, v in pairs(base) do opts[k] = v end
    opts.extra_env = { DRHOST_PROD_EXTERNAL_URL = "abfss://x@p.dfs.core.windows.net/" }
    local s = job.settings(opts)
    assert.are.equal("abfss://x@p.dfs.core.windows.net/", s.job_clusters[1].new_cluster.spark_env_vars.DRHOST_PROD_EXTERNAL_URL)
    opts.extra_env = { AZURE_CLIENT_SECRET = "plain" }
    assert.has_error(function() job.settings(opts) end)
  end)

  it("names what is missing", function()
    local ok, e = pcall(job.settings, { env = base.env })
    assert.is_false(ok)
    assert.truthy(e.message:match("`source_host` is required"))
  end)
end)

describe("replicate.inventory.is_missing", function()
  local inventory = require("replicate.inventory")
  it("recognises missing catalogs, schemas and tables by error class or message", function()
    assert.is_true(inventory.is_missing({ code = "BAD_REQUEST", error_class = "NO_SUCH_CATALOG_EXCEPTION", message = "x" }))
    assert.is_true(inventory.is_missing({ code = "BAD_REQUEST", message = "[TABLE_OR_VIEW_NOT_FOUND] Table 'a.b.c' ..." }))
    assert.is_true(inventory.is_missing({ code = "BAD_REQUEST", message = "Catalog 'x' was not found." }))
    assert.is_false(inventory.is_missing({ code = "PERMISSION_DENIED", message = "[INSUFFICIENT_PERMISSIONS] no" }))
  end)
end)

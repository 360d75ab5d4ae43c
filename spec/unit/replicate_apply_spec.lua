-- luacheck: max line length 160
-- apply: phases in order, per-object isolation, view waves, state written after clones, reruns
-- tolerate "already exists". Fake workspace and SQL connections record what is sent.
local apply = require("replicate.apply")
local plan_lib = require("replicate.plan")
local config = require("replicate.config")

local function fake_side(opts)
  opts = opts or {}
  local side = { sent = {}, rest = {} }
  local conn = {}
  function conn:many(list)
    local out = {}
    for i, item in ipairs(list) do
      local sql = item[1]
      table.insert(side.sent, { sql = sql, params = item[2], catalog = self.catalog, schema = self.schema })
      local fail = opts.fail_sql and opts.fail_sql(sql)
      if fail then out[i] = { error = { code = "SQL_FAILED", message = fail } }
      elseif sql:match("DEEP CLONE") then out[i] = { rows = { { num_copied_files = 3 } }, meta = {} }
      else out[i] = { rows = {}, meta = {} } end
    end
    return out
  end
  side.conn_for = function(catalog, schema)
    return setmetatable({ catalog = catalog, schema = schema }, { __index = conn })
  end
  side.ws = { all = function(_, reqs)
    local out = {}
    for i, r in ipairs(reqs) do
      table.insert(side.rest, r)
      local st = opts.rest_status and opts.rest_status(r) or 200
      if st >= 400 then out[i] = { status = st, error = { code = st == 409 and "RESOURCE_ALREADY_EXISTS" or "BAD", message = "x" } }
      else out[i] = { status = st, body = {} } end
    end
    return out
  end }
  return side
end

local function action(id, phase, object, sql, extra)
  local a = { id = id, phase = phase, op = "create", kind = "table", object = object, reason = "r",
    steps = { { side = "dst", sql = sql, clone = sql:match("DEEP CLONE") ~= nil } } }
  for k, v in pairs(extra or {}) do a[k] = v end
  return a
end

local cfg = config.validate({ catalogs = { a = "b" }, parallelism = 4 }, "spec")

describe("replicate.apply", function()
  it("runs phases in order and isolates a failing object", function()
    local dst = fake_side({ fail_sql = function(sql) return sql:match("bad") and "boom" or nil end })
    local plan = { actions = {
      action(1, "schema", "b.s", "CREATE SCHEMA b.s"),
      action(2, "clone", "b.s.bad", "CREATE OR REPLACE TABLE bad DEEP CLONE x",
        { record = { object = "b.s.bad", source = "a.s.bad", source_version = 1 } }),
      action(3, "clone", "b.s.good", "CREATE OR REPLACE TABLE good DEEP CLONE y",
        { record = { object = "b.s.good", source = "a.s.good", source_version = 4 } }),
      action(4, "metadata", "b.s.bad", "COMMENT ON TABLE bad IS 'x'"),
      action(5, "view", "b.s.v", "CREATE VIEW v AS SELECT * FROM bad", { needs = { "b.s.bad" } }),
      action(6, "metadata", "b.s.good", "COMMENT ON TABLE good IS 'y'"),
    } }
    local results = apply.run(plan, { dst = dst, src = fake_side(), cfg = cfg })
    assert.are.equal("ok", results[1].status)
    assert.are.equal("failed", results[2].status)
    assert.are.equal("ok", results[3].status)
    assert.are.equal(4, results[3].recorded_version)
    assert.are.equal(3, results[3].metrics.num_copied_files)
    assert.are.equal("skipped", results[4].status)
    assert.truthy(results[4].error:match("b.s.bad failed earlier"))
    assert.are.equal("skipped", results[5].status)
    assert.truthy(results[5].error:match("needs b.s.bad"))
    assert.are.equal("ok", results[6].status)
    -- statements: schema first; the state is written after the clones, before the metadata phase
    local order = {}
    for _, s in ipairs(dst.sent) do order[#order + 1] = s.sql:match("^(%u+ ?%u*)") end
    assert.are.same({ "CREATE SCHEMA", "CREATE OR", "CREATE OR", "DELETE FROM", "INSERT INTO", "COMMENT ON" }, order)
    local ins = dst.sent[5]
    assert.are.equal("b.s.good", ins.params.o1)
    assert.are.equal(4, ins.params.v1.value)
    assert.is_nil(ins.sql:match("b%.s%.good"), "values travel as parameters, never in the text")
  end)

  it("marks a clone failed when its state cannot be written", function()
    local dst = fake_side({ fail_sql = function(sql) return sql:match("^INSERT") and "no state" or nil end })
    local plan = { actions = { action(1, "clone", "b.s.t", "CREATE OR REPLACE TABLE t DEEP CLONE s",
      { record = { object = "b.s.t", source = "a.s.t", source_version = 2 } }) } }
    local results = apply.run(plan, { dst = dst, src = fake_side(), cfg = cfg })
    assert.are.equal("failed", results[1].status)
    assert.truthy(results[1].error:match("state could not be written"))
  end)

  it("creates views in dependency waves", function()
    local dst = fake_side()
    local plan = { actions = {
      action(1, "view", "b.s.v3", "V3", { needs = { "b.s.v2" } }),
      action(2, "view", "b.s.v2", "V2", { needs = { "b.s.v1" } }),
      action(3, "view", "b.s.v1", "V1", { needs = { "b.s.t" } }),
    } }
    apply.run(plan, { dst = dst, src = fake_side(), cfg = cfg })
    local seq = {}
    for _, s in ipairs(dst.sent) do seq[#seq + 1] = s.sql end
    assert.are.same({ "V1", "V2", "V3" }, seq)
  end)

  it("treats 409 on a create call as done (rerun after a kill) and other errors as failures", function()
    local src = fake_side({ rest_status = function(r) return r.method == "POST" and 409 or (r.path:match("bad") and 400 or 200) end })
    local plan = { actions = {
      { id = 1, phase = "share", op = "create", kind = "share", object = "s_1", reason = "r",
        steps = { { side = "src", rest = { method = "POST", path = "/shares", body = {} } } } },
      { id = 2, phase = "share", op = "update", kind = "share", object = "s_bad#1", reason = "r",
        steps = { { side = "src", rest = { method = "PATCH", path = "/shares/bad", body = {} } } } },
      action(3, "clone", "b.s.t", "CREATE OR REPLACE TABLE t DEEP CLONE s", { needs = { "s_bad" } }),
    } }
    local results = apply.run(plan, { dst = fake_side(), src = src, cfg = cfg })
    assert.are.equal("ok", results[1].status)
    assert.are.equal("failed", results[2].status)
    assert.are.equal("skipped", results[3].status)
  end)

  it("executes a plan built by plan.build end to end on fakes", function()
    local src_inv = { catalogs = { a = { name = "a", catalog_type = "MANAGED_CATALOG" } },
      schemas = { ["a.s"] = { catalog = "a", name = "s", full = "a.s" } },
      tables = { ["a.s.t"] = { catalog = "a", schema = "s", name = "t", full = "a.s.t", table_type = "MANAGED",
        format = "DELTA", columns = {}, table_id = "id1" } },
      versions = { ["a.s.t"] = { version = 1 } }, shares = {}, grants = {} }
    local dst_inv = { catalogs = {}, schemas = {}, tables = {}, state = {}, state_exists = true, provider = "p" }
    local c = config.validate({ catalogs = { a = "b" }, sharing = { recipient = "r" } }, "spec")
    local plan = plan_lib.build(c, src_inv, dst_inv, {})
    local dst, src = fake_side(), fake_side()
    local results = apply.run(plan, { dst = dst, src = src, cfg = c })
    for _, a in ipairs(plan.actions) do assert.are.equal("ok", results[a.id].status, a.phase .. " " .. a.object) end
    assert.are.equal(3, #src.rest)   -- create share, add table, grant recipient
    assert.are.equal(1, #dst.rest)   -- mount the share as a catalog
  end)
end)

describe("replicate.apply ordering inside a phase", function()
  it("runs a share's batches after the share is created, and skips what needs a skipped object", function()
    local order = {}
    local side = { conn_for = function() return { many = function(_, list)
      local out = {}
      for i, item in ipairs(list) do order[#order + 1] = item[1]; out[i] = { rows = {} } end
      return out
    end } end }
    side.ws = { all = function(_, reqs)
      local out = {}
      for i, r in ipairs(reqs) do
        order[#order + 1] = r.method .. " " .. r.path
        out[i] = r.path:match("bad") and { status = 400, error = { code = "BAD", message = "no" } } or { status = 200, body = {} }
      end
      return out
    end }
    local plan = { actions = {
      { id = 1, phase = "share", op = "update", object = "s_1#1", needs = { "s_1" },
        steps = { { side = "src", rest = { method = "PATCH", path = "/shares/s_1" } } } },
      { id = 2, phase = "share", op = "create", object = "s_1", steps = { { side = "src", rest = { method = "POST", path = "/shares" } } } },
      { id = 3, phase = "share", op = "create", object = "bad", steps = { { side = "src", rest = { method = "POST", path = "/shares/bad" } } } },
      { id = 4, phase = "share_catalog", op = "create", object = "c_bad", needs = { "bad" },
        steps = { { side = "dst", rest = { method = "POST", path = "/catalogs" } } } },
      { id = 5, phase = "clone", op = "clone", object = "t", needs = { "c_bad" }, steps = { { side = "dst", sql = "CLONE" } } },
    } }
    local results = apply.run(plan, { src = side, dst = side, cfg = cfg })
    assert.are.same({ "POST /shares", "POST /shares/bad", "PATCH /shares/s_1" }, order)
    assert.are.equal("ok", results[1].status)
    assert.are.equal("skipped", results[4].status)
    assert.are.equal("skipped", results[5].status)
    assert.truthy(results[5].error:match("needs c_bad"))
  end)
end)

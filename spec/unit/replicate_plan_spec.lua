-- The plan: pure diff of fixture inventories (no simulator needed).
local plan = require("replicate.plan")
local config = require("replicate.config")

local PROD = "abfss://ext@prod.dfs.core.windows.net/"
local DR = "abfss://ext@dr.dfs.core.windows.net/"

local function cfg_with(extra)
  local raw = { catalogs = { sales = "sales_dr" }, storage = { [PROD] = DR },
    sharing = { recipient = "dr_recipient" }, protected_principals = { "job-sp" } }
  for k, v in pairs(extra or {}) do raw[k] = v end
  return config.validate(raw, "spec")
end

local function source()
  local cols = { { name = "id", type_text = "int" }, { name = "amount", type_text = "double", comment = "EUR" } }
  return {
    catalogs = { sales = { name = "sales", comment = "Sales data", owner = "data-owners", tags = { tier = "gold" },
      catalog_type = "MANAGED_CATALOG" } },
    schemas = {
      ["sales.core"] = { catalog = "sales", name = "core", full = "sales.core", comment = "core", owner = "data-owners" },
      ["sales.reporting"] = { catalog = "sales", name = "reporting", full = "sales.reporting", owner = "data-owners" },
    },
    tables = {
      ["sales.core.orders"] = { catalog = "sales", schema = "core", name = "orders", full = "sales.core.orders",
        table_type = "MANAGED", format = "DELTA", columns = cols, comment = "All orders", owner = "data-owners",
        table_id = "t-orders", tags = { pii = "no" } },
      ["sales.core.events"] = { catalog = "sales", schema = "core", name = "events", full = "sales.core.events",
        table_type = "EXTERNAL", format = "DELTA", location = PROD .. "events", columns = cols, table_id = "t-events" },
      ["sales.core.raw"] = { catalog = "sales", schema = "core", name = "raw", full = "sales.core.raw",
        table_type = "EXTERNAL", format = "PARQUET", location = PROD .. "raw", columns = cols, table_id = "t-raw" },
      ["sales.core.v_orders"] = { catalog = "sales", schema = "core", name = "v_orders", full = "sales.core.v_orders",
        table_type = "VIEW", view_definition = "SELECT * FROM sales.core.orders WHERE amount > 0" },
      ["sales.reporting.v_top"] = { catalog = "sales", schema = "reporting", name = "v_top",
        full = "sales.reporting.v_top", table_type = "VIEW",
        view_definition = "SELECT id FROM sales.core.v_orders -- from sales.core.v_orders\nWHERE 'sales.x.y' <> ''" },
    },
    volumes = {
      ["sales.core.files"] = { catalog = "sales", schema = "core", name = "files", full = "sales.core.files",
        volume_type = "EXTERNAL", location = PROD .. "files" },
    },
    functions = {
      ["sales.core.double_it"] = { catalog = "sales", schema = "core", name = "double_it", full = "sales.core.double_it",
        params = { { name = "x", type_text = "INT" } }, returns = "INT", body = "x * 2", language = "SQL" },
    },
    grants = {
      ["catalog:sales"] = { analysts = { USE_CATALOG = true } },
      ["table:sales.core.orders"] = { analysts = { SELECT = true }, etl = { MODIFY = true, SELECT = true } },
    },
    versions = { ["sales.core.orders"] = { version = 3, ts = "2026-11-23T10:00:00Z" },
      ["sales.core.events"] = { version = 7, ts = "2026-11-23T10:00:00Z" } },
    shares = {},
  }
end

local function empty_dr()
  return { catalogs = {}, schemas = {}, tables = {}, volumes = {}, functions = {}, grants = {}, state = {},
    state_exists = false, provider = "prod_provider" }
end

local function by(p, phase)
  local out = {}
  for _, a in ipairs(p.actions) do if a.phase == phase then out[#out + 1] = a end end
  return out
end

local function sqls(a)
  local out = {}
  for _, s in ipairs(a.steps) do out[#out + 1] = s.sql or (s.rest.method .. " " .. s.rest.path) end
  return table.concat(out, "\n")
end

describe("replicate.plan", function()
  it("plans everything, in the documented phase order, for an empty dr", function()
    local p = plan.build(cfg_with(), source(), empty_dr(), {})
    local last = 0
    for _, a in ipairs(p.actions) do
      local idx = plan.PHASE_INDEX[a.phase]
      assert.is_true(idx >= last, "phase order broken at " .. a.phase)
      last = idx
    end
    assert.are.equal(1, #by(p, "state"))
    assert.are.equal("CREATE CATALOG IF NOT EXISTS `sales_dr` COMMENT 'Sales data'", sqls(by(p, "catalog")[1]))
    assert.are.equal(2, #by(p, "schema"))
    -- one share created, one batch added, granted, mounted in dr
    local share = by(p, "share")
    assert.are.equal("create", share[1].op)
    assert.are.same({ "sales.core.events", "sales.core.orders" }, share[2].tables)
    assert.are.equal(1, #by(p, "share_grant"))
    assert.are.equal(1, #by(p, "share_catalog"))
    assert.are.equal("CREATE OR REPLACE TABLE `sales_dr`.`core`.`orders` DEEP CLONE `drhost_src_1`.`core`.`orders`",
      sqls(by(p, "clone")[1]))
    assert.are.equal("CREATE OR REPLACE TABLE `sales_dr`.`core`.`events` DEEP CLONE `drhost_src_1`.`core`.`events`"
      .. " LOCATION 'abfss://ext@dr.dfs.core.windows.net/events'", sqls(by(p, "external_clone")[1]))
    assert.truthy(sqls(by(p, "register")[1]):match("USING PARQUET LOCATION 'abfss://ext@dr.dfs.core.windows.net/raw'"))
    assert.are.equal(2, p.clones)
  end)

  it("orders views by dependency and rewrites catalogs outside literals and comments", function()
    local p = plan.build(cfg_with(), source(), empty_dr(), {})
    local views = by(p, "view")
    assert.are.equal("sales_dr.core.v_orders", views[1].object)
    assert.are.equal("sales_dr.reporting.v_top", views[2].object)
    assert.are.equal("CREATE OR REPLACE VIEW `sales_dr`.`reporting`.`v_top` AS SELECT id FROM sales_dr.core.v_orders"
      .. " -- from sales.core.v_orders\nWHERE 'sales.x.y' <> ''", sqls(views[2]))
    assert.are.same({ "sales_dr.core.v_orders" }, views[2].needs)
  end)

  it("re-applies the table comment after a clone, then tags, grants, owners", function()
    local p = plan.build(cfg_with(), source(), empty_dr(), {})
    local meta = {}
    for _, a in ipairs(by(p, "metadata")) do meta[a.object] = sqls(a) end
    assert.are.equal("COMMENT ON TABLE `sales_dr`.`core`.`orders` IS 'All orders'", meta["sales_dr.core.orders"])
    local tags = {}
    for _, a in ipairs(by(p, "tags")) do tags[a.object] = sqls(a) end
    assert.are.equal("ALTER CATALOG `sales_dr` SET TAGS ('tier' = 'gold')", tags["sales_dr"])
    local g = {}
    for _, a in ipairs(by(p, "grants")) do g[a.object] = a.changes end
    assert.are.same({ { principal = "analysts", add = { "SELECT" } }, { principal = "etl", add = { "MODIFY", "SELECT" } } },
      g["sales_dr.core.orders"])
    local owners = by(p, "owner")
    assert.is_true(#owners >= 3)
    assert.are.equal("ALTER CATALOG `sales_dr` OWNER TO `data-owners`", sqls(owners[1]))
  end)

  -- dr after a complete sync of source(): what an applied plan leaves behind
  local function synced_dr()
    local src = source()
    local dr = empty_dr()
    dr.state_exists = true
    dr.catalogs.sales_dr = { name = "sales_dr", comment = "Sales data", owner = "data-owners", tags = { tier = "gold" } }
    dr.catalogs.drhost_src_1 = { name = "drhost_src_1" }
    for full, s in pairs(src.schemas) do
      local t = full:gsub("^sales", "sales_dr")
      dr.schemas[t] = { name = s.name, comment = s.comment, owner = s.owner }
    end
    for full, t in pairs(src.tables) do
      local n = full:gsub("^sales%.", "sales_dr.")
      local c = {}
      for k, v in pairs(t) do c[k] = v end
      if t.view_definition then c.view_definition = t.view_definition:gsub("FROM sales%.", "FROM sales_dr.") end
      if t.location then c.location = t.location:gsub("prod", "dr") end
      dr.tables[n] = c
    end
    dr.volumes["sales_dr.core.files"] = { location = DR .. "files" }
    dr.functions["sales_dr.core.double_it"] = src.functions["sales.core.double_it"]
    dr.grants["catalog:sales_dr"] = { analysts = { USE_CATALOG = true }, ["job-sp"] = { ALL_PRIVILEGES = true } }
    dr.grants["table:sales_dr.core.orders"] = src.grants["table:sales.core.orders"]
    dr.state["sales_dr.core.orders"] = { source_version = 3, source_table_id = "t-orders" }
    dr.state["sales_dr.core.events"] = { source_version = 7, source_table_id = "t-events" }
    src.shares = { drhost_dr_1 = { tables = { "sales.core.orders", "sales.core.events" }, recipients = { "dr_recipient" } } }
    return src, dr
  end

  it("plans nothing when dr is in step (the no-op sync)", function()
    local src, dr = synced_dr()
    local p = plan.build(cfg_with(), src, dr, {})
    local left = {}
    for _, a in ipairs(p.actions) do left[#left + 1] = a.phase .. " " .. a.object .. " (" .. a.reason .. ")" end
    assert.are.same({}, left)
    assert.are.equal(0, p.clones)
  end)

  it("clones exactly the tables whose source version moved or whose source was recreated", function()
    local src, dr = synced_dr()
    src.versions["sales.core.orders"].version = 5
    src.tables["sales.core.events"].table_id = "t-events-2"
    local p = plan.build(cfg_with(), src, dr, {})
    local clones = {}
    for _, a in ipairs(p.actions) do if a.op == "clone" then clones[a.object] = a.reason end end
    assert.are.same({ ["sales_dr.core.orders"] = "source version 5 > last cloned 3",
      ["sales_dr.core.events"] = "source table was recreated (table id changed)" }, clones)
    assert.are.equal(2, p.clones)
  end)

  it("compares a replica as dr's lean inventory keeps it: a managed one has no location", function()
    local src, dr = synced_dr()
    dr.tables["sales_dr.core.orders"].location = nil            -- managed replica: UC placed it
    local p = plan.build(cfg_with(), src, dr, {})
    assert.are.same({}, p.actions)
    -- an external Delta source whose replica is a managed table: cloned to the mapped location
    dr.tables["sales_dr.core.events"].table_type, dr.tables["sales_dr.core.events"].location = "MANAGED", nil
    p = plan.build(cfg_with(), src, dr, {})
    local clones = {}
    for _, a in ipairs(p.actions) do if a.op == "clone" then clones[a.object] = a.reason end end
    assert.are.same({ ["sales_dr.core.events"] = "dr has a managed table, not one at the mapped " .. DR .. "events" },
      clones)
  end)

  it("re-clones everything with clone_strategy = always (the bench baseline)", function()
    local src, dr = synced_dr()
    local p = plan.build(cfg_with({ clone_strategy = "always" }), src, dr, {})
    assert.are.equal(2, p.clones)
  end)

  it("records instead of re-cloning when the replica's history shows the clone landed (kill after clone)", function()
    local src, dr = synced_dr()
    dr.state["sales_dr.core.orders"] = nil
    dr.clone_history = { ["sales_dr.core.orders"] = { source_version = 3 } }
    local p = plan.build(cfg_with(), src, dr, {})
    assert.are.equal(1, #p.actions)
    assert.are.equal("record", p.actions[1].op)
    assert.are.equal(0, p.clones)
  end)

  it("fails only the object whose storage is unmapped", function()
    local src = source()
    src.tables["sales.core.events"].location = "abfss://elsewhere@prod.dfs.core.windows.net/e"
    local p = plan.build(cfg_with(), src, empty_dr(), {})
    assert.are.equal(1, #p.failed)
    assert.are.equal("sales_dr.core.events", p.failed[1].object)
    assert.truthy(p.failed[1].reason:match("no storage mapping covers"))
    assert.are.equal(1, p.clones)
  end)

  it("skips and reports tables protected by a row filter or column mask", function()
    local src = source()
    src.tables["sales.core.orders"].row_filter = { function_name = "sales.core.only_eu", input_column_names = { "id" } }
    local p = plan.build(cfg_with(), src, empty_dr(), {})
    assert.are.equal("sales_dr.core.orders", p.skipped[1].object)
    assert.truthy(p.skipped[1].reason:match("row filter"))
    for _, a in ipairs(p.actions) do assert.are_not.equal("sales_dr.core.orders", a.object) end
    -- the view on it cannot be created either, and says why
    local failed = {}
    for _, f in ipairs(p.failed) do failed[f.object] = f.reason end
    assert.truthy(failed["sales_dr.core.v_orders"]:match("depends on sales_dr.core.orders"))
  end)

  it("reports view cycles without stopping the rest", function()
    local src = source()
    src.tables["sales.core.v_orders"].view_definition = "SELECT * FROM sales.reporting.v_top"
    local p = plan.build(cfg_with(), src, empty_dr(), {})
    local failed = {}
    for _, f in ipairs(p.failed) do failed[f.object] = f.reason end
    assert.truthy(failed["sales_dr.core.v_orders"]:match("cycle"))
    assert.truthy(failed["sales_dr.reporting.v_top"]:match("cycle"))
    assert.are.equal(2, p.clones)
  end)

  it("revokes extras in dr but never from protected principals; reports unmapped principals", function()
    local src, dr = synced_dr()
    dr.grants["table:sales_dr.core.orders"] = { analysts = { SELECT = true, MODIFY = true }, ["job-sp"] = { MANAGE = true } }
    src.grants["table:sales.core.orders"]["44444444-4444-4444-4444-444444444444"] = { SELECT = true }
    local p = plan.build(cfg_with(), src, dr, {})
    local g = by(p, "grants")
    assert.are.equal(1, #g)
    assert.are.same({ { principal = "analysts", remove = { "MODIFY" } }, { principal = "etl", add = { "MODIFY", "SELECT" } } },
      g[1].changes)
    assert.are.same({ "44444444-4444-4444-4444-444444444444" }, p.unmapped_principals)
  end)

  it("does not warn about a protected principal's grants in prod: the deployment sets them per side", function()
    local src, dr = synced_dr()
    local job = "66666666-6666-6666-6666-666666666666"   -- an application id: unmapped unless listed
    src.grants["table:sales.core.orders"][job] = { SELECT = true }
    src.grants["table:sales.core.orders"]["55555555-5555-5555-5555-555555555555"] = { SELECT = true }
    local p = plan.build(cfg_with({ protected_principals = { job } }), src, dr, {})
    assert.are.same({ "55555555-5555-5555-5555-555555555555" }, p.unmapped_principals)
    for _, w in ipairs(p.warnings) do assert.is_nil(w.reason:match(job:gsub("%-", "%%-"))) end
  end)

  it("applies hooks: filter, policy and rename (views follow the rename)", function()
    local cfg = cfg_with({ hooks = {
      filter = function(o) return o.name ~= "raw" end,
      policy = function(o) return o.name == "events" and "skip" or nil end,
      rename = function(o) return o.name == "orders" and "orders_v2" or nil end,
    } })
    local p = plan.build(cfg, source(), empty_dr(), {})
    local objects = {}
    for _, a in ipairs(p.actions) do objects[a.object] = objects[a.object] or a end
    assert.is_nil(objects["sales_dr.core.raw"])
    assert.is_nil(objects["sales_dr.core.events"])
    assert.is_truthy(objects["sales_dr.core.orders_v2"])
    assert.truthy(sqls(objects["sales_dr.core.v_orders"]):match("FROM `sales_dr`%.`core`%.`orders_v2` WHERE"))
  end)

  it("an include pattern naming one table brings its schema along, and nothing else", function()
    local p = plan.build(cfg_with({ include = { "sales.core.orders" } }), source(), empty_dr(), {})
    local objects = {}
    for _, a in ipairs(p.actions) do objects[a.object] = true end
    assert.is_true(objects["sales_dr.core"])
    assert.is_true(objects["sales_dr.core.orders"])
    assert.is_nil(objects["sales_dr.reporting"])
    assert.is_nil(objects["sales_dr.core.raw"])
    assert.is_nil(objects["sales_dr.core.v_orders"])
    assert.is_nil(objects["sales_dr.core.events"])
    assert.are.equal(1, p.clones)
  end)

  it("prunes only with prune = true, and refuses above the configured share", function()
    local src, dr = synced_dr()
    dr.tables["sales_dr.core.gone"] = { table_type = "MANAGED" }
    local p = plan.build(cfg_with(), src, dr, {})
    assert.are.equal(0, #p.actions)
    assert.truthy(p.notes[1].reason:match("prune = false"))
    p = plan.build(cfg_with({ prune = true, prune_max_fraction = 0.5 }), src, dr, {})
    assert.are.equal("DROP TABLE IF EXISTS `sales_dr`.`core`.`gone`", sqls(by(p, "prune")[1]))
    p = plan.build(cfg_with({ prune = true, prune_max_fraction = 0.01 }), src, dr, {})
    assert.are.equal(0, #by(p, "prune"))
    assert.truthy(p.failed[1].reason:match("^refused: 1 of"))
  end)

  it("shards shares and only adds what the share lacks", function()
    local src, dr = synced_dr()
    src.tables["sales.core.new_t"] = { catalog = "sales", schema = "core", name = "new_t", full = "sales.core.new_t",
      table_type = "MANAGED", format = "DELTA", columns = {}, table_id = "t-new" }
    src.versions["sales.core.new_t"] = { version = 0 }
    local p = plan.build(cfg_with(), src, dr, {})
    local share = by(p, "share")
    assert.are.equal(1, #share)
    assert.are.same({ "sales.core.new_t" }, share[1].tables)
    assert.are.equal(0, #by(p, "share_catalog"))
  end)

  it("a catalog prod does not have is a config error before anything is planned", function()
    local cfg = cfg_with({ catalogs = { sales = "sales_dr", nope = "nope_dr" } })
    local ok, err = pcall(plan.build, cfg, source(), empty_dr(), {})
    assert.is_false(ok)
    assert.are.equal("CONFIG_INVALID", err.code)
    assert.are.equal("catalogs.nope", err.details.key)
    assert.truthy(err.message:find("spec: `catalogs.nope` names a catalog prod does not have", 1, true), err.message)
    assert.truthy(err.message:find("prod has: sales", 1, true), err.message)
  end)

  it("honours the policy hook for every kind, or refuses what a kind cannot do", function()
    local seen = {}
    local cfg = cfg_with({ hooks = { policy = function(o)
      seen[o.kind] = true
      if o.kind == "volume" then return "metadata_only" end
      if o.kind == "function" then return "metadata_only" end
      if o.kind == "schema" and o.name == "reporting" then return "skip" end
    end } })
    local p = plan.build(cfg, source(), empty_dr(), {})
    for _, k in ipairs({ "catalog", "schema", "table", "view", "volume", "function" }) do assert.is_true(seen[k], k) end
    local objects, failed, skipped = {}, {}, {}
    for _, a in ipairs(p.actions) do objects[a.object] = objects[a.object] or a end
    for _, f in ipairs(p.failed) do failed[f.object] = f.reason end
    for _, f in ipairs(p.skipped) do skipped[f.object] = f.reason end
    -- an external volume as metadata only: an empty managed volume, not one at the mapped location
    assert.are.equal("CREATE VOLUME IF NOT EXISTS `sales_dr`.`core`.`files`", sqls(objects["sales_dr.core.files"]))
    -- a function is a definition: metadata_only is refused, naming what it accepts
    assert.truthy(failed["sales.core.double_it"]:match("hook policy returned 'metadata_only' for a function %(expected clone or skip%)"))
    assert.is_nil(objects["sales_dr.core.double_it"])
    -- a skipped schema takes its objects along
    assert.truthy(skipped["sales.reporting"])
    assert.is_nil(objects["sales_dr.reporting"]); assert.is_nil(objects["sales_dr.reporting.v_top"])
    -- and a catalog goes through the hooks like the rest
    p = plan.build(cfg_with({ hooks = { policy = function(o) return o.kind == "catalog" and "skip" or nil end } }),
      source(), empty_dr(), {})
    for _, a in ipairs(p.actions) do assert.are.equal("state", a.phase) end
    assert.are.equal("sales", p.skipped[1].object)
  end)

  it("renames tables, views, volumes and functions; a name for a schema is a config error", function()
    local cfg = cfg_with({ hooks = { rename = function(o)
      if o.kind == "volume" or o.kind == "function" then return o.name .. "_dr" end
    end } })
    local p = plan.build(cfg, source(), empty_dr(), {})
    local objects = {}
    for _, a in ipairs(p.actions) do objects[a.object] = objects[a.object] or a end
    assert.truthy(objects["sales_dr.core.files_dr"]); assert.is_nil(objects["sales_dr.core.files"])
    assert.truthy(objects["sales_dr.core.double_it_dr"]); assert.is_nil(objects["sales_dr.core.double_it"])
    local bad = cfg_with({ hooks = { rename = function(o) if o.kind == "schema" then return "other" end end } })
    local ok, err = pcall(plan.build, bad, source(), empty_dr(), {})
    assert.is_false(ok)
    assert.are.equal("CONFIG_INVALID", err.code)
    assert.are.equal("hooks.rename", err.details.key)
    local want = "`hooks.rename` returned \"other\" for schema sales.core: only tables, views, volumes and functions can be renamed"
    assert.truthy(err.message:find(want, 1, true), err.message)
  end)

  it("the hooks shipped commented out in env/dr.replication.lua work when uncommented", function()
    local f = assert(io.open("env/dr.replication.lua", "r"))
    local text = f:read("a"); f:close()
    local n
    text, n = text:gsub("\n(%s*)%-%- (%a+ = function)", "\n%1%2")
    assert.are.equal(3, n)
    local path = os.tmpname()
    f = io.open(path, "w"); f:write(text); f:close()
    local ok, cfg = pcall(config.load, path)
    os.remove(path)
    assert.is_true(ok, tostring(cfg))
    cfg.catalogs = { sales = "sales_dr" }
    cfg.storage = { [PROD] = DR }
    cfg.exclude = {}
    local src = source()
    src.tables["sales.core.orders"].tags = { dr = "schema_only" }
    src.tables["sales.core.tmp_x"] = { catalog = "sales", schema = "core", name = "tmp_x", full = "sales.core.tmp_x",
      table_type = "MANAGED", format = "DELTA", columns = {} }
    local p = plan.build(cfg, src, empty_dr(), {})
    assert.are.equal(0, #p.failed, p.failed[1] and p.failed[1].reason)
    local objects = {}
    for _, a in ipairs(p.actions) do objects[a.object] = objects[a.object] or a end
    assert.is_nil(objects["sales_dr.core.tmp_x"])
    assert.truthy(sqls(objects["sales_dr.core.orders"]):match("^CREATE TABLE IF NOT EXISTS `sales_dr`%.`core`%.`orders` %("))
    assert.truthy(objects["sales_dr.core.files"]); assert.truthy(objects["sales_dr.core.double_it"])
  end)
end)

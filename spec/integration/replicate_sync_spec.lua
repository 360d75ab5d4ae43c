-- Replication against the simulator: every object kind, the no-op sync, incremental clones,
-- status, renamed catalogs rewritten in views, grants equal through the principal mapping.
local H = dofile("spec/integration/replicate_helper.lua")

describe("replicate sync (simulator)", function()
  local ctx
  setup(function()
    ctx = H.setup("sy")
    H.seed_prod(ctx)
  end)

  it("first sync replicates every object kind and dr matches prod", function()
    local rc, doc, _, err = H.run(ctx, "sync --json")
    assert.are.equal(0, rc, err)
    assert.are.equal(0, doc.totals.failed)
    assert.are.equal(4, H.count_clones(doc))   -- 3 managed + 1 external Delta
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
    local same, report = H.deltacheck(ctx)   -- independent: delta-rs on the stored tables
    assert.is_true(same, report)
    -- every kind is present in dr
    local inv = require("replicate.inventory").read{ ws = ctx.dst.ws, conn = ctx.dst.conn,
      catalogs = { ctx.dr_sales, ctx.names.finance }, stats = {} }
    local s = ctx.dr_sales
    assert.are.equal("EXTERNAL", inv.tables[s .. ".core.events"].table_type)
    assert.truthy(inv.tables[s .. ".core.events"].location:match("drhostdrext"))
    assert.are.equal("PARQUET", inv.tables[ctx.names.finance .. ".ledger.fx_rates"].format)
    assert.truthy(inv.tables[ctx.names.finance .. ".ledger.fx_rates"].location:match("drhostdrext"))
    assert.are.equal("EXTERNAL", inv.volumes[s .. ".core.landing"].volume_type)
    assert.truthy(inv.volumes[s .. ".core.landing"].location:match("drhostdrext"))
    assert.is_table(inv.functions[s .. ".core.net"])
    assert.are.equal("All orders", inv.tables[s .. ".core.orders"].comment)
    assert.are.equal("true", inv.tables[s .. ".core.customers"].tags.pii)
    assert.are.equal("name", inv.tables[s .. ".core.customers"].column_tags.name.pii)
    assert.are.equal("gold", inv.catalogs[ctx.names.finance].tags.tier)
    assert.are.equal("finance-team", inv.tables[ctx.names.finance .. ".reporting.v_sales_vs_ledger"].owner)
    -- views: catalog renamed through the tokenizer, literals and comments untouched
    local v = inv.tables[s .. ".reporting.v_by_country"].view_definition
    assert.truthy(v:find("FROM " .. s .. ".core.v_orders", 1, true), v)
    assert.truthy(v:find("-- reads " .. ctx.names.sales .. ".core.v_orders", 1, true), v)
    local v2 = inv.tables[ctx.names.finance .. ".reporting.v_sales_vs_ledger"].view_definition
    assert.truthy(v2:find("'" .. ctx.names.sales .. ".reporting' AS src", 1, true), v2)
    -- the mapped service principal holds the grant in dr; the prod one does not
    local g = inv.grants["table:" .. ctx.names.finance .. ".ledger.entries"]
    assert.is_true(g[H.seedlib().DR_SP].MODIFY)
    assert.is_nil(g[H.seedlib().PROD_SP])
  end)

  it("a sync with no source change clones nothing and its plan is empty", function()
    local rc, doc = H.run(ctx, "plan --json")
    assert.are.equal(0, rc)
    assert.are.equal(0, #doc.actions)
    rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.are.equal(0, H.count_clones(doc))
    assert.are.equal(0, doc.totals.ok + doc.totals.failed)
    -- the default (version_source = "log") without EXTERNAL USE SCHEMA for drhost on prod: vending
    -- is refused, so all 4 Delta tables' versions come from DESCRIBE HISTORY (replicate_deltalog_spec
    -- has the granted case)
    assert.are.same({ log = 0, history = 4, vend = 4, list = 0 }, doc.version_reads)
  end)

  it("clones exactly the changed tables, then nothing", function()
    H.seedlib().change(ctx.src, ctx.names)
    local rc, doc = H.run(ctx, "status --json")
    assert.are.equal(0, rc)
    local behind = {}
    for _, t in ipairs(doc.tables) do if t.state == "behind" then behind[#behind + 1] = t.object end end
    table.sort(behind)
    assert.are.same({ ctx.names.finance .. ".ledger.entries", ctx.dr_sales .. ".core.orders" }, behind)
    rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.are.equal(2, H.count_clones(doc))
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
    local same, report = H.deltacheck(ctx)   -- independent: delta-rs on the stored tables
    assert.is_true(same, report)
    rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.are.equal(0, H.count_clones(doc))
    rc, doc = H.run(ctx, "status --json")
    assert.are.equal(0, rc)
    for _, t in ipairs(doc.tables) do assert.are.equal("in sync", t.state, t.object) end
  end)

  it("a data-only commit leaves the listing's version stamp where it was; the table is cloned all the same", function()
    local full = ctx.names.sales .. ".core.orders"
    local function stamp()
      local t = ctx.src.ws:get("/api/2.1/unity-catalog/tables/" .. full)
      return t.properties["delta.lastUpdateVersion"]
    end
    local before = stamp()
    assert.truthy(before)
    ctx.src.conn:exec("INSERT INTO " .. full .. " VALUES (6, 1, 1.0)")
    assert.are.equal(before, stamp())
    local h = ctx.src.conn:query("DESCRIBE HISTORY " .. full .. " LIMIT 1")
    assert.is_true(math.tointeger(tonumber(h[1].version)) > math.tointeger(tonumber(before)))
    -- a version source trusting the stamp would skip this table: "auto" is refused
    local cfg = {}
    for k, v in pairs(ctx.cfg_table) do cfg[k] = v end
    cfg.version_source = "auto"
    H.write_config(ctx, cfg)
    local rc, _, _, err = H.run(ctx, "plan")
    H.write_config(ctx, ctx.cfg_table)
    assert.are_not.equal(0, rc)
    assert.truthy(err:find("version_source", 1, true), err)
    local doc
    rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.are.equal(1, H.count_clones(doc))
    local ok, lines = H.compare(ctx)
    assert.is_true(ok, table.concat(lines, "\n"))
    local same, report = H.deltacheck(ctx)   -- independent: delta-rs on the stored tables
    assert.is_true(same, report)
  end)

  it("applies a saved plan exactly, and refuses a file that is not a plan", function()
    H.seedlib().change(ctx.src, ctx.names)
    local path = os.tmpname()
    local rc = H.run(ctx, "plan -out " .. path)
    assert.are.equal(0, rc)
    local doc
    rc, doc = H.run(ctx, "apply " .. path .. " --json")
    assert.are.equal(0, rc)
    assert.are.equal(2, H.count_clones(doc))
    local f = io.open(path, "w"); f:write("{}"); f:close()
    local _, _, _, err = H.run(ctx, "apply " .. path)
    assert.truthy(err:match("PLAN_INVALID"))
    os.remove(path)
  end)

  it("revokes what dr has beyond prod, but never from protected principals", function()
    local t = ctx.names.finance .. ".ledger.entries"
    ctx.dst.conn:exec("GRANT SELECT ON TABLE " .. t .. " TO `intruder`")
    ctx.dst.conn:exec("GRANT SELECT ON TABLE " .. t .. " TO `dr-breakglass`")
    local rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(0, rc)
    assert.is_true(doc.totals.ok >= 1)
    local rows = ctx.dst.conn:query("SHOW GRANTS ON TABLE " .. t)
    local who = {}
    for _, r in ipairs(rows) do who[r.Principal or r.principal] = true end
    assert.is_nil(who.intruder)
    assert.is_true(who["dr-breakglass"])
  end)
end)

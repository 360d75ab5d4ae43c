-- luacheck: max line length 160
-- Per-object isolation and policies on the simulator: an unmapped location fails that object
-- alone; a table protected by a row filter is skipped and reported; hooks; prune only when
-- allowed and refused above the configured share.
local H = dofile("spec/integration/replicate_helper.lua")

describe("replicate objects and policies (simulator)", function()
  local ctx
  setup(function()
    ctx = H.setup("ob", { rename = false })
    H.seed_prod(ctx)
    local seed = H.seedlib()
    local s = ctx.names.sales
    for _, st in ipairs({
      "CREATE TABLE " .. s .. ".core.stray (id INT) USING DELTA LOCATION '" .. seed.PROD_EXT .. "stray_" .. ctx.id .. "/t'",
      "INSERT INTO " .. s .. ".core.stray VALUES (1)",
      "CREATE FUNCTION " .. s .. ".core.only_de(country STRING) RETURNS BOOLEAN RETURN country = 'DE'",
      "CREATE TABLE " .. s .. ".core.eu_customers (id INT, country STRING) USING DELTA",
      "INSERT INTO " .. s .. ".core.eu_customers VALUES (1, 'DE'), (2, 'FR')",
      "ALTER TABLE " .. s .. ".core.eu_customers SET ROW FILTER " .. s .. ".core.only_de ON (country)",
      "CREATE FUNCTION " .. s .. ".core.hide(v STRING) RETURNS STRING RETURN '***'",
      "ALTER TABLE " .. s .. ".core.eu_customers ADD COLUMNS (email STRING)",
      "ALTER TABLE " .. s .. ".core.eu_customers ALTER COLUMN email SET MASK " .. s .. ".core.hide",
      "CREATE TABLE " .. s .. ".core.tmp_scratch (id INT) USING DELTA",
    }) do ctx.src.conn:exec(st) end
  end)

  it("fails only the object with an unmapped location and skips the protected table", function()
    local rc, doc = H.run(ctx, "sync --json")
    assert.are.equal(1, rc)   -- one object failed: the run says so
    local failed = {}
    for _, f in ipairs(doc.failures) do failed[f.object] = f.reason end
    assert.truthy((failed[ctx.names.sales .. ".core.stray"] or ""):match("no storage mapping covers"))
    local n, text = 0, {}
    for o, r in pairs(failed) do n = n + 1; text[#text + 1] = o .. ": " .. tostring(r) end
    assert.are.equal(1, n, table.concat(text, "\n"))
    local skipped = {}
    for _, s in ipairs(doc.skipped) do skipped[s.object] = s.reason end
    assert.truthy((skipped[ctx.names.sales .. ".core.eu_customers"] or ""):match("row filter"))
    -- everything else arrived (3 managed + 1 external Delta from the seed, + tmp_scratch)
    assert.are.equal(5, H.count_clones(doc))
    local rows = ctx.dst.conn:query("SELECT count(*) AS n FROM " .. ctx.names.sales .. ".core.orders")
    assert.are.equal(4, rows[1].n)
    local ok = pcall(ctx.dst.conn.query, ctx.dst.conn, "SELECT * FROM " .. ctx.names.sales .. ".core.eu_customers")
    assert.is_false(ok, "a protected table must not be partially copied")
  end)

  it("metadata_only protected tables are created empty with their row filter and column mask re-applied", function()
    local cfg = ctx.cfg_table
    cfg.protected_tables = "metadata_only"
    H.write_config(ctx, cfg)
    local _, doc = H.run(ctx, "sync --json")
    cfg.protected_tables = nil
    H.write_config(ctx, cfg)
    local t = ctx.names.sales .. ".core.eu_customers"
    local failed = {}
    for _, f in ipairs(doc.failures) do failed[f.object] = f.reason end
    assert.is_nil(failed[t])
    local info = ctx.dst.ws:get("/api/2.1/unity-catalog/tables/" .. t)
    assert.are.equal(ctx.names.sales .. ".core.only_de", info.row_filter.function_name)
    local masked
    for _, c in ipairs(info.columns) do if c.name == "email" then masked = c.mask end end
    assert.are.equal(ctx.names.sales .. ".core.hide", masked and masked.function_name)
    local rows = ctx.dst.conn:query("SELECT count(*) AS n FROM " .. t)
    assert.are.equal(0, rows[1].n)   -- no data copied through the policy
  end)

  it("hooks filter and rename objects; the default config excludes *.*.tmp_*", function()
    local seed = H.seedlib()
    local cfg = ctx.cfg_table
    local text = "return " .. string.format([[{
      source = { host = %q, warehouse_id = %q }, target = { host = %q, warehouse_id = %q },
      catalogs = { [%q] = %q, [%q] = %q },
      storage = { [%q] = %q, [%q] = %q },
      sharing = { recipient = %q, share_prefix = %q, catalog_prefix = %q },
      state = { catalog = %q },
      exclude = { "*.*.tmp_*" },
      principals = { map = { [%q] = %q } },
      hooks = {
        filter = function(o) return o.name ~= "customers" end,
        rename = function(o) if o.name == "orders" then return "orders_replica" end end,
      },
    }]], cfg.source.host, cfg.source.warehouse_id, cfg.target.host, cfg.target.warehouse_id,
      ctx.names.sales, ctx.names.sales .. "_h", ctx.names.finance, ctx.names.finance .. "_h",
      seed.PROD_EXT .. ctx.id .. "/", seed.DR_EXT .. ctx.id .. "h/", seed.PROD_EXT .. "stray_" .. ctx.id .. "/", seed.DR_EXT .. "stray_" .. ctx.id .. "h/",
      cfg.sharing.recipient, cfg.sharing.share_prefix, cfg.sharing.catalog_prefix .. "h", cfg.state.catalog .. "h",
      seed.PROD_SP, seed.DR_SP)
    H.write_config(ctx, nil, text)
    local rc, doc = H.run(ctx, "plan --json")
    local objects = {}
    for _, a in ipairs(doc.actions) do objects[a.object] = a end
    local s = ctx.names.sales .. "_h"
    assert.is_nil(objects[s .. ".core.customers"])
    assert.is_nil(objects[s .. ".core.tmp_scratch"])
    assert.is_table(objects[s .. ".core.orders_replica"])
    -- the view on orders follows the rename; the view on customers cannot be built without it
    local v = objects[s .. ".core.v_orders"]
    assert.is_nil(v)
    local failed = {}
    for _, f in ipairs(doc.failed) do failed[f.object] = f.reason end
    assert.truthy((failed[s .. ".core.v_orders"] or ""):match("not replicated") or (failed[s .. ".core.v_orders"] or ""):match("depends"))
    assert.are.equal(1, rc)
    H.write_config(ctx, ctx.cfg_table)
  end)

  it("prunes only with prune = true and refuses above prune_max_fraction", function()
    local extra = ctx.names.finance .. ".ledger.gone_in_prod"
    ctx.dst.conn:exec("CREATE TABLE IF NOT EXISTS " .. extra .. " (id INT) USING DELTA")
    local rc, doc = H.run(ctx, "plan --json")
    local noted = false
    for _, n in ipairs(doc.notes) do if n.object == extra then noted = true end end
    assert.is_true(noted)
    assert.is_true(rc <= 1)
    local cfg = ctx.cfg_table
    cfg.prune, cfg.prune_max_fraction = true, 0.01
    H.write_config(ctx, cfg)
    rc, doc = H.run(ctx, "plan --json")
    assert.are.equal(1, rc)
    local refused = false
    for _, f in ipairs(doc.failed) do if f.object == "prune" and f.reason:match("^refused") then refused = true end end
    assert.is_true(refused)
    cfg.prune_max_fraction = 0.5
    H.write_config(ctx, cfg)
    H.run(ctx, "sync --json")
    local ok = pcall(ctx.dst.conn.query, ctx.dst.conn, "SELECT * FROM " .. extra)
    assert.is_false(ok, "pruned table still there")
    cfg.prune = nil
    cfg.prune_max_fraction = nil
    H.write_config(ctx, cfg)
  end)
end)

-- Source version discovery: which Delta tables take their version from the listing's UC stamp
-- (managed, stamp readable, not below the recorded clone) and which need DESCRIBE HISTORY
-- (external, no or bad stamp, a stamp going backwards, version_source = "history"); the
-- version_source config key; discovery through inventory.discover issues DESCRIBE HISTORY only for those.
local inventory = require("replicate.inventory")
local config = require("replicate.config")

local V, TS = "delta.lastUpdateVersion", "delta.lastCommitTimestamp"

local function tbl(full, ttype, props)
  return { full = full, table_type = ttype, format = "DELTA", properties = props or {} }
end

local function sorted(t) table.sort(t); return t end

describe("replicate version sources", function()
  local tables, names
  before_each(function()
    tables = {
      ["c.s.m1"] = tbl("c.s.m1", "MANAGED", { [V] = "12", [TS] = "1795475066131", quality = "gold" }),
      ["c.s.m2"] = tbl("c.s.m2", "MANAGED", { [V] = "0" }),
      ["c.s.ext"] = tbl("c.s.ext", "EXTERNAL", { [V] = "5", [TS] = "1795475066131" }),
      ["c.s.nostamp"] = tbl("c.s.nostamp", "MANAGED", {}),
      ["c.s.bad"] = tbl("c.s.bad", "MANAGED", { [V] = "-3" }),
      ["c.s.frac"] = tbl("c.s.frac", "MANAGED", { [V] = "4.5" }),
    }
    names = sorted({ "c.s.m1", "c.s.m2", "c.s.ext", "c.s.nostamp", "c.s.bad", "c.s.frac" })
  end)

  it("auto: managed tables with a stamp take it; external and unstamped ones need DESCRIBE HISTORY", function()
    local versions, need, why = inventory.stamped_versions(tables, names, { mode = "auto" })
    assert.are.equal(12, versions["c.s.m1"].version)
    assert.are.equal("integer", math.type(versions["c.s.m1"].version))
    assert.are.equal("2026-11-23T23:04:26.131Z", versions["c.s.m1"].ts)
    assert.are.equal("stamp", versions["c.s.m1"].from)
    assert.are.equal(0, versions["c.s.m2"].version)
    assert.is_nil(versions["c.s.m2"].ts)
    assert.are.same({ "c.s.bad", "c.s.ext", "c.s.frac", "c.s.nostamp" }, need)
    assert.are.equal("external table", why["c.s.ext"])
    assert.are.equal("no version stamp", why["c.s.nostamp"])
    assert.are.equal("unreadable version stamp", why["c.s.bad"])
    assert.are.equal("unreadable version stamp", why["c.s.frac"])
    for _, n in ipairs(need) do assert.is_nil(versions[n], n) end
  end)

  it("history: every table needs DESCRIBE HISTORY, stamps or not", function()
    local versions, need, why = inventory.stamped_versions(tables, names, { mode = "history" })
    assert.is_nil(next(versions))
    assert.are.same(names, need)
    assert.are.equal("version_source = history", why["c.s.m1"])
  end)

  it("a stamp below the version already cloned is not trusted; equal or above is", function()
    local _, need, why = inventory.stamped_versions(tables, names, { recorded = { ["c.s.m1"] = 13, ["c.s.m2"] = 0 } })
    assert.is_truthy(why["c.s.m1"]:match("below the recorded"))
    local set = {}
    for _, n in ipairs(need) do set[n] = true end
    assert.is_true(set["c.s.m1"])
    assert.is_nil(set["c.s.m2"])
    local versions = inventory.stamped_versions(tables, names, { recorded = { ["c.s.m1"] = 11 } })
    assert.are.equal(12, versions["c.s.m1"].version)
  end)

  it("converts UC's commit time (ms) to DESCRIBE HISTORY's timestamp shape", function()
    assert.are.equal("1970-01-01T00:00:01.005Z", inventory.ms_to_iso("1005"))
    assert.are.equal("2026-11-23T23:04:26.131Z", inventory.ms_to_iso(1795475066131))
    assert.is_nil(inventory.ms_to_iso("soon"))
    assert.is_nil(inventory.ms_to_iso(nil))
  end)

  it("config: version_source defaults to history, accepts auto, refuses anything else by name", function()
    local raw = { catalogs = { sales = "sales" } }
    assert.are.equal("history", config.validate(raw, "f.lua").version_source)
    raw.version_source = "auto"
    assert.are.equal("auto", config.validate(raw, "f.lua").version_source)
    raw.version_source = "stamps"
    local ok, err = pcall(config.validate, raw, "env/dr.replication.lua")
    assert.is_false(ok)
    assert.are.equal("CONFIG_INVALID", err.code)
    assert.truthy(err.message:find("env/dr.replication.lua: version_source: expected \"auto\"", 1, true) == 1, err.message)
    assert.truthy(err.message:match("got string \"stamps\""), err.message)
  end)
end)

-- inventory.discover against fake workspaces: count the DESCRIBE HISTORY statements.
local P = "/api/2.1/unity-catalog"

local function side(tables_body, sql_log, state_rows, table_queries)
  local ws = {}
  local function answer(r)
    if r.path == P .. "/tables" and table_queries then table_queries[#table_queries + 1] = r.query end
    if r.path == P .. "/catalogs" then return { catalogs = { { name = "sales", catalog_type = "MANAGED_CATALOG" } } } end
    if r.path == P .. "/schemas" then return { schemas = { { catalog_name = "sales", name = "core" } } } end
    if r.path == P .. "/tables" then return { tables = tables_body } end
    if r.path == P .. "/volumes" then return { volumes = {} } end
    if r.path == P .. "/functions" then return { functions = {} } end
    if r.path == P .. "/shares" then return { shares = {} } end
    if r.path == P .. "/providers" then return { providers = {} } end
    return {}
  end
  function ws.all(_, reqs)
    local out = {}
    for i, r in ipairs(reqs) do out[i] = { status = 200, body = answer(r) } end
    return out
  end
  function ws.list(_, path, query, key) return answer({ path = path, query = query })[key] or {} end
  function ws.get(_, path) return answer({ path = path }) end
  local conn = {}
  function conn.many(_, list)
    local out = {}
    for i, item in ipairs(list) do
      local s = item[1]
      sql_log[#sql_log + 1] = s
      if s:match("^DESCRIBE HISTORY") then
        out[i] = { rows = { { version = 7, timestamp = "2026-11-23T10:00:00.000Z", operation = "WRITE" } } }
      elseif s:match("replication_state") then
        out[i] = { rows = state_rows or {} }
      else
        out[i] = { rows = {} }
      end
    end
    return out
  end
  return { ws = ws, conn = conn, host = "https://x.localhost" }
end

local function listed(name, ttype, props)
  return { catalog_name = "sales", schema_name = "core", name = name, table_type = ttype, data_source_format = "DELTA",
    properties = props, storage_location = ttype == "EXTERNAL" and ("abfss://c@a.dfs.core.windows.net/" .. name) or nil }
end

describe("replicate discovery of source versions", function()
  local body = {
    listed("orders", "MANAGED", { [V] = "3", [TS] = "1795475066131" }),
    listed("customers", "MANAGED", { [V] = "9" }),
    listed("events", "EXTERNAL", { [V] = "2" }),
    listed("legacy", "MANAGED", nil),
    { catalog_name = "sales", schema_name = "core", name = "v", table_type = "VIEW", view_definition = "SELECT 1" },
  }

  local function run(mode, state_rows)
    local cfg = config.validate({ catalogs = { sales = "sales" }, version_source = mode }, "f.lua")
    local src_log, dst_log, queries = {}, {}, {}
    local stats = { sql = 0, rest = 0 }
    local src_inv = inventory.discover(cfg, side(body, src_log, nil, queries), side({}, dst_log, state_rows), stats, function() end,
      { versions_only = true })
    local hist = {}
    for _, s in ipairs(src_log) do if s:match("^DESCRIBE HISTORY") then hist[#hist + 1] = s end end
    table.sort(hist)
    return src_inv, hist, stats, queries
  end

  it("auto: DESCRIBE HISTORY only for the external and the unstamped table", function()
    local inv, hist, stats, queries = run("auto")
    assert.are.equal(1, #queries)
    assert.are.equal("true", queries[1].include_delta_metadata)
    assert.are.same({ "DESCRIBE HISTORY `sales`.`core`.`events` LIMIT 1", "DESCRIBE HISTORY `sales`.`core`.`legacy` LIMIT 1" }, hist)
    assert.are.same({ stamp = 2, history = 2 }, stats.versions)
    assert.are.equal(3, inv.versions["sales.core.orders"].version)
    assert.are.equal("stamp", inv.versions["sales.core.orders"].from)
    assert.are.equal(9, inv.versions["sales.core.customers"].version)
    assert.are.equal(7, inv.versions["sales.core.events"].version)     -- history, not the stamp 2
    assert.are.equal("history", inv.versions["sales.core.events"].from)
    assert.is_nil(inv.versions["sales.core.v"])
  end)

  it("history: DESCRIBE HISTORY for every Delta table", function()
    local inv, hist, stats, queries = run("history")
    assert.is_nil(queries[1].include_delta_metadata)
    assert.are.equal(4, #hist)
    assert.are.same({ stamp = 0, history = 4 }, stats.versions)
    assert.are.equal(7, inv.versions["sales.core.orders"].version)
  end)

  it("auto: a stamp behind the state table's recorded version falls back to DESCRIBE HISTORY", function()
    local _, hist = run("auto", { { object = "sales.core.orders", source = "sales.core.orders", source_version = 5 } })
    assert.are.equal(3, #hist)
    assert.truthy(table.concat(hist, "\n"):find("`orders`", 1, true))
  end)
end)

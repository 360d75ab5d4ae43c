-- Source version discovery: every Delta table's version comes from its log (DESCRIBE HISTORY),
-- whatever the listing's version stamp says (Unity Catalog moves delta.lastUpdateVersion only on
-- metadata changes); the version_source config key accepts "log" (the default, the Delta log's head:
-- spec/unit/replicate_deltalog_spec.lua) and "history".
local inventory = require("replicate.inventory")
local config = require("replicate.config")

local V, TS = "delta.lastUpdateVersion", "delta.lastCommitTimestamp"

describe("replicate version source config", function()
  it("version_source defaults to log, accepts history and refuses auto, saying why", function()
    local raw = { catalogs = { sales = "sales" } }
    assert.are.equal("log", config.validate(raw, "f.lua").version_source)
    raw.version_source = "history"
    assert.are.equal("history", config.validate(raw, "f.lua").version_source)
    raw.version_source = "auto"
    local ok, err = pcall(config.validate, raw, "env/dr.replication.lua")
    assert.is_false(ok)
    assert.are.equal("CONFIG_INVALID", err.code)
    assert.truthy(err.message:find("env/dr.replication.lua: version_source: expected \"log\"", 1, true) == 1, err.message)
    assert.truthy(err.message:find("metadata changes only", 1, true), err.message)
    assert.truthy(err.message:match("got string \"auto\""), err.message)
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

  local function run(state_rows)
    local cfg = config.validate({ catalogs = { sales = "sales" } }, "f.lua")
    local src_log, dst_log, queries = {}, {}, {}
    local stats = { sql = 0, rest = 0 }
    local src_inv = inventory.discover(cfg, side(body, src_log, nil, queries), side({}, dst_log, state_rows), stats, function() end,
      { versions_only = true })
    local hist = {}
    for _, s in ipairs(src_log) do if s:match("^DESCRIBE HISTORY") then hist[#hist + 1] = s end end
    table.sort(hist)
    return src_inv, hist, stats, queries
  end

  it("DESCRIBE HISTORY for every Delta table, stamped or not, managed or external", function()
    local inv, hist, stats, queries = run()
    assert.are.equal(1, #queries)
    assert.is_nil(queries[1].include_delta_metadata)
    assert.are.same({ "DESCRIBE HISTORY `sales`.`core`.`customers` LIMIT 1", "DESCRIBE HISTORY `sales`.`core`.`events` LIMIT 1",
      "DESCRIBE HISTORY `sales`.`core`.`legacy` LIMIT 1", "DESCRIBE HISTORY `sales`.`core`.`orders` LIMIT 1" }, hist)
    -- (default version_source = "log": nothing cloned yet, so no table can be probed)
    assert.are.same({ log = 0, history = 4, vend = 0, list = 0 }, stats.versions)
    -- the log's version (7), not the listing's stamp (3): the stamp did not move on data commits
    assert.are.equal(7, inv.versions["sales.core.orders"].version)
    assert.are.equal("history", inv.versions["sales.core.orders"].from)
    assert.are.equal(7, inv.versions["sales.core.events"].version)
    assert.is_nil(inv.versions["sales.core.v"])
  end)

  it("a recorded clone version changes nothing: the log is read all the same", function()
    local _, hist = run({ { object = "sales.core.orders", source = "sales.core.orders", source_version = 3 } })
    assert.are.equal(4, #hist)
  end)
end)

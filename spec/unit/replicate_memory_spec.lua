-- Memory of the replication plan at scale, on synthetic inventories (no simulator): what one table
-- costs in an inventory and in the plan, and that discovery's per-table requests go in slices.
--
-- The bounds come from the budget: the no-op plan of 10,000 tables must peak at 64 MB. About 17 MB
-- of that is fixed (binary and libraries, the TLS store and connections, Lua's modules), the
-- slices' requests and answers take a few MB whatever the number of tables, and the Lua collector
-- lets garbage grow to about the live heap again before it runs. That leaves about 2 KB of live
-- heap per table for both inventories, the replication state and the plan; a listed table with
-- two columns measures 0.83 KB in prod's inventory and 0.53 KB as a replica in dr's (strings
-- counted) and 0.27 KB in the plan, counted with collectgarbage("count") after full collections:
-- deterministic for the same code.
local json = require("json")
local kinds = require("replicate.kinds")
local plan = require("replicate.plan")
local config = require("replicate.config")
local inventory = require("replicate.inventory")

local PROD = "abfss://external@prodext.dfs.core.windows.net/"
local DR = "abfss://external@drext.dfs.core.windows.net/"
local N = 2000

local function live()
  collectgarbage("collect")
  collectgarbage("collect")
  return collectgarbage("count") * 1024
end

local function id(i) return string.format("%08x-aaaa-bbbb-cccc-%012d", i, i) end

-- One entry of the tables listing, as the API answers it (decoded JSON).
local function listed(cat, i)
  local name = string.format("t%04d", i)
  return json.decode(json.encode{ name = name, catalog_name = cat, schema_name = "s" .. math.ceil(i / 50),
    full_name = cat .. ".s" .. math.ceil(i / 50) .. "." .. name, table_type = "MANAGED", data_source_format = "DELTA",
    columns = { { name = "id", type_text = "int", type_name = "INT", position = 0, nullable = true },
      { name = "v", type_text = "string", type_name = "STRING", position = 1, nullable = true } },
    storage_location = PROD .. "managed/" .. cat .. "/tables/" .. id(i), table_id = id(i), owner = "owner-sp",
    created_at = 1796297327813, updated_at = 1796297327813, metastore_id = "m-1",
    properties = { ["delta.lastCommitTimestamp"] = "1796297327952", ["delta.lastUpdateVersion"] = "0" } })
end

local function side(cat, raws, lean)
  local inv = { grants = {}, warnings = {}, errors = {}, shares = {} }
  for _, coll in ipairs(kinds.collections) do inv[coll] = {} end
  inv.catalogs[cat] = { name = cat, full = cat, owner = "owner-sp", tags = {} }
  for _, raw in ipairs(raws) do
    local t = kinds.get("table").normalise(raw, lean)
    local s = t.catalog .. "." .. t.schema
    inv.schemas[s] = inv.schemas[s] or { catalog = t.catalog, name = t.schema, full = s, owner = "owner-sp", tags = {} }
    inv.tables[t.full] = t
  end
  return inv
end

describe("replication memory per table", function()
  it("an inventory keeps at most 1 KB per listed table (two columns)", function()
    local raws = {}
    for i = 1, N do raws[i] = listed("bench", i) end
    local before = live()
    local inv = side("bench", raws)
    local per = (live() - before) / N
    assert.is_true(per <= 1024, string.format("%.0f B per table in the inventory", per))
    -- a plain column is one record for every table that has it; the record reads as before
    local a, b = inv.tables["bench.s1.t0001"], inv.tables["bench.s2.t0051"]
    assert.is_true(rawequal(a.columns[2], b.columns[2]))
    -- and a list of plain columns is one list for every table with the same columns in that order
    assert.is_true(rawequal(a.columns, b.columns))
    local norm = kinds.get("table").normalise
    local raw = listed("bench", 1)
    raw.columns[1], raw.columns[2] = raw.columns[2], raw.columns[1]
    local swapped = norm(raw)
    assert.is_false(rawequal(a.columns, swapped.columns))
    assert.are.same({ "v", "id" }, { swapped.columns[1].name, swapped.columns[2].name })
    raw = listed("bench", 1)
    raw.columns[2].comment = "notes"
    local commented = norm(raw)
    assert.is_false(rawequal(a.columns, commented.columns))
    assert.are.equal("notes", commented.columns[2].comment)
    assert.is_nil(a.columns[2].comment)
    assert.are.same({ name = "v", type_text = "string", type_name = "STRING" }, a.columns[2])
    assert.are.same({}, a.tags)
    assert.has_error(function() a.tags.x = "1" end)
  end)

  it("a replica in dr's inventory keeps only what the plan compares: at most 0.55 KB, a third less", function()
    -- the listings are garbage once read (as in discovery): their strings count where a record keeps them
    local function per_record(lean)
      local keep = {}
      local before = live()
      for i = 1, N do keep[i] = kinds.get("table").normalise(listed("bench_dr", i), lean) end
      return (live() - before) / N, keep
    end
    local full = per_record(false)
    local per, recs = per_record(true)
    assert.is_true(per <= 560, string.format("%.0f B per replica", per))
    assert.is_true(per <= full * 0.7, string.format("%.0f B per replica against %.0f B in full", per, full))
    local r = recs[1]
    assert.are.equal("bench_dr.s1.t0001", r.full)
    assert.are.equal("MANAGED", r.table_type)
    assert.are.equal("owner-sp", r.owner)
    assert.are.equal(2, #r.columns)
    assert.is_nil(r.location)
    assert.is_nil(r.table_id)
    assert.are.same({}, r.properties)
    -- an external replica keeps its location: the plan compares it with the mapped one
    local raw = listed("bench_dr", 1)
    raw.table_type = "EXTERNAL"
    assert.are.equal(raw.storage_location, kinds.get("table").normalise(raw, true).location)
  end)

  it("a no-op plan keeps at most 0.375 KB per table", function()
    local function listing(cat)
      local raws = {}
      for i = 1, N do raws[i] = listed(cat, i) end
      return raws
    end
    local src, dst = side("bench", listing("bench")), side("bench_dr", listing("bench_dr"), true)
    dst.state, dst.state_exists, dst.provider, src.versions = {}, true, "prov", {}
    src.shares.drhost_1 = { tables = {}, recipients = { "rcp" } }
    dst.catalogs.drhost_src_1 = { name = "drhost_src_1", full = "drhost_src_1", tags = {} }
    for full, t in pairs(src.tables) do
      local tgt = "bench_dr" .. full:sub(#"bench" + 1)
      dst.state[tgt] = { source = full, source_table_id = t.table_id, source_version = 0, source_commit_ts = "ts",
        cloned_at = "ts", run_id = "r1" }
      src.versions[full] = { version = 0, ts = "ts", from = "log" }
      table.insert(src.shares.drhost_1.tables, full)
    end
    local cfg = config.validate({ catalogs = { bench = "bench_dr" }, storage = { [PROD] = DR },
      sharing = { recipient = "rcp", share_prefix = "drhost", catalog_prefix = "drhost_src" },
      principals = { map = { ["owner-sp"] = "owner-sp" } } }, "spec")
    local before = live()
    local p = plan.build(cfg, src, dst, { now = "now", run_id = "r2" })
    local per = (live() - before) / N
    assert.are.equal(0, #p.actions, p.actions[1] and p.actions[1].reason)
    assert.are.equal(N, #p.tables)
    assert.is_true(per <= 384, string.format("%.0f B per table in the plan", per))
    -- an in-sync table's status row names neither a reason nor a missing replica
    assert.is_true(p.tables[1].in_sync)
    assert.is_nil(p.tables[1].reason)
    assert.is_nil(p.tables[1].missing)
  end)

  it("probes the Delta logs in slices, its answers merged as one probe gives them", function()
    local tables, names, recorded, sizes = {}, {}, {}, {}
    local n = inventory.SLICE * 2 + 7
    for i = 1, n do
      local full = string.format("bench.s1.t%05d", i)
      names[i] = full
      tables[full] = { table_id = id(i), location = PROD .. "t/" .. i }
      recorded[full] = { source = full, source_table_id = id(i), source_version = 1 }
    end
    table.sort(names, function(a, b) return a > b end)   -- any order in, sorted out
    local ws = { all = function(_, reqs)
      sizes[#sizes + 1] = #reqs
      local out = {}
      for i = 1, #reqs do out[i] = { status = 403, error = { code = "PERMISSION_DENIED", status = 403, message = "no" } } end
      return out
    end }
    local unchanged, need, notes, calls = require("replicate.deltalog").probe(ws, tables, names, recorded,
      { concurrency = 4, slice = inventory.SLICE })
    assert.are.same({ inventory.SLICE, inventory.SLICE, 7 }, sizes)
    assert.are.same({}, unchanged)
    assert.are.equal(n, #need)
    for i = 2, n do assert.is_true(need[i - 1] < need[i]) end
    assert.are.equal(1, #notes)
    assert.matches("^credential vending refused", notes[1])
    assert.are.same({ vend = n, list = 0 }, calls)
  end)
end)

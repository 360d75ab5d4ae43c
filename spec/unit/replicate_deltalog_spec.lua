-- Unit specs of the Delta log probe (version_source = "log"): which tables are "unchanged" (only a
-- state row with the same table id and an empty listing after the recorded version), the listing
-- asked for, and every fallback to DESCRIBE HISTORY (said once per reason).
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
local deltalog = require("replicate.deltalog")

local LOC = "abfss://uc@prodst.dfs.core.windows.net/ms/tables/"

local function fake(opts)
  opts = opts or {}
  local seen = { vend = {}, list = {} }
  local ws = { all = function(_, reqs)
    local out = {}
    for i, r in ipairs(reqs) do
      seen.vend[#seen.vend + 1] = r.body.table_id
      if opts.refuse then
        out[i] = { status = 403, error = { code = "PERMISSION_DENIED", status = 403, message = "no EXTERNAL USE SCHEMA" } }
      else
        out[i] = { status = 200, body = { url = LOC .. r.body.table_id, azure_user_delegation_sas = { sas_token = "sv=x&sig=y" } } }
      end
    end
    return out
  end }
  local http = { all = function(reqs)
    local out = {}
    for i, r in ipairs(reqs) do
      seen.list[#seen.list + 1] = r.url
      local moved = false
      for _, m in ipairs(opts.moved or {}) do if r.url:find(m, 1, true) then moved = true end end
      out[i] = { status = opts.list_status or 200,
        body = moved and "<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs></EnumerationResults>"
          or "<EnumerationResults><Blobs /></EnumerationResults>" }
    end
    return out
  end }
  return ws, http, seen
end

local function estate()
  local tables, recorded, names = {}, {}, {}
  for i, id in ipairs({ "id1", "id2", "id3" }) do
    local full = "c.s.t" .. i
    names[i] = full
    -- the listing's stamp equals the recorded version: it did not move, whatever the data did
    tables[full] = { table_id = id, location = LOC .. id, table_type = "MANAGED",
      properties = { ["delta.lastUpdateVersion"] = "7" } }
    recorded[full] = { source_table_id = id, source_version = 7, source_commit_ts = "2026-12-01T00:00:00.000Z" }
  end
  return tables, recorded, names
end

describe("replicate deltalog", function()
  it("lists exactly the next commit file of each table, with the vended SAS", function()
    local url = deltalog.list_url("abfss://uc@prodst.dfs.core.windows.net/ms/tables/id1/", 8, "?sv=x&sig=y")
    assert.equal("https://prodst.blob.core.windows.net/uc?restype=container&comp=list&maxresults=1&prefix=" ..
      "ms%2Ftables%2Fid1%2F_delta_log%2F00000000000000000008.json&sv=x&sig=y", url)
    assert.is_nil(deltalog.list_url("dbfs:/x", 1))
    assert.same({ "prodst", "uc", "a/b" }, { deltalog.parse("wasbs://uc@prodst.blob.core.windows.net/a/b/") })
  end)

  it("an empty listing after the recorded version keeps it; a moved table is always read again", function()
    local tables, recorded, names = estate()
    local ws, http, seen = fake({ moved = { "id2%2F_delta_log%2F00000000000000000008.json" } })
    local unchanged, need, notes, calls = deltalog.probe(ws, tables, names, recorded, { http = http })
    assert.same({ "c.s.t2" }, need)                 -- moved although its stamp did not
    assert.same({ version = 7, ts = "2026-12-01T00:00:00.000Z", from = "log" }, unchanged["c.s.t1"])
    assert.is_table(unchanged["c.s.t3"])
    assert.is_nil(unchanged["c.s.t2"])
    assert.same({ vend = 3, list = 3 }, calls)
    assert.same({}, notes)
    assert.equal(3, #seen.list)
  end)

  it("never probes a table without a usable state row: new, replaced under its name, no version", function()
    local tables, recorded, names = estate()
    recorded["c.s.t1"] = nil                                 -- never cloned
    recorded["c.s.t2"].source_table_id = "an-older-table"    -- dropped and re-created
    recorded["c.s.t3"].source_version = "x"
    local ws, http, seen = fake()
    local unchanged, need = deltalog.probe(ws, tables, names, recorded, { http = http })
    assert.same({ "c.s.t1", "c.s.t2", "c.s.t3" }, need)
    assert.same({}, unchanged)
    assert.equal(0, #seen.vend)
  end)

  it("vending refused or a listing failing: DESCRIBE HISTORY for those tables, each reason said once", function()
    local tables, recorded, names = estate()
    local ws, http = fake({ refuse = true })
    local unchanged, need, notes, calls = deltalog.probe(ws, tables, names, recorded, { http = http })
    assert.same(names, need)
    assert.same({}, unchanged)
    assert.equal(1, #notes)
    assert.matches("credential vending refused", notes[1])
    assert.same({ vend = 3, list = 0 }, calls)
    ws, http = fake({ list_status = 403 })
    local _, need2, notes2 = deltalog.probe(ws, tables, names, recorded, { http = http })
    assert.same(names, need2)
    assert.equal(1, #notes2)
    assert.matches("listing a Delta log failed %(HTTP 403%)", notes2[1])
  end)

  it("a catalog-managed table is never probed (its log may trail Unity Catalog): DESCRIBE HISTORY, said once "
    .. "with the count", function()
    assert.is_true(deltalog.catalog_managed({ properties = { ["delta.feature.catalogManaged"] = "supported" } }))
    assert.is_true(deltalog.catalog_managed({ properties = { ["delta.feature.catalogOwned-preview"] = "supported" } }))
    assert.is_false(deltalog.catalog_managed({ properties = { ["delta.feature.deletionVectors"] = "supported" } }))
    assert.is_false(deltalog.catalog_managed({}))
    local tables, recorded, names = estate()
    tables["c.s.t1"].properties["delta.feature.catalogManaged"] = "supported"
    tables["c.s.t3"].properties["delta.feature.catalogOwned-preview"] = "supported"
    -- the listing would say "unchanged" for every table (the newest commit is not published yet)
    local ws, http, seen = fake()
    local unchanged, need, notes, calls = deltalog.probe(ws, tables, names, recorded, { http = http })
    assert.same({ "c.s.t1", "c.s.t3" }, need)
    assert.same({ "c.s.t2" }, (function() local k = {}; for n in pairs(unchanged) do k[#k + 1] = n end; return k end)())
    assert.same({ "id2" }, seen.vend)                        -- no credential asked for them either
    assert.same({ vend = 1, list = 1 }, calls)
    assert.equal(1, #notes)
    assert.matches("^2 catalog%-managed table%(s%)", notes[1])
    assert.matches("DESCRIBE HISTORY", notes[1], 1, true)
    -- only catalog-managed tables: nothing vended at all, the note still once
    tables["c.s.t2"].properties["delta.feature.catalogManaged"] = "supported"
    ws, http, seen = fake()
    unchanged, need, notes = deltalog.probe(ws, tables, names, recorded, { http = http })
    assert.same(names, need)
    assert.same({}, unchanged)
    assert.equal(0, #seen.vend)
    assert.same({ "3 catalog-managed table(s) (commits ratified by Unity Catalog, the log in storage may trail "
      .. "them): versions read with DESCRIBE HISTORY" }, notes)
  end)
end)

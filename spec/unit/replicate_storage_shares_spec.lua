-- Storage URL mapping (longest prefix wins, path boundaries) and share sharding.
local storage = require("replicate.storage")
local shares = require("replicate.shares")

describe("replicate.storage", function()
  local mapping = {
    ["abfss://data@prod.dfs.core.windows.net/"] = "abfss://data@dr.dfs.core.windows.net/",
    ["abfss://data@prod.dfs.core.windows.net/special"] = "abfss://special@dr.dfs.core.windows.net/x",
  }
  it("maps by the longest prefix", function()
    assert.are.equal("abfss://special@dr.dfs.core.windows.net/x/t1",
      storage.map("abfss://data@prod.dfs.core.windows.net/special/t1", mapping))
    assert.are.equal("abfss://data@dr.dfs.core.windows.net/other/t2",
      storage.map("abfss://data@prod.dfs.core.windows.net/other/t2", mapping))
  end)
  it("matches only at path boundaries", function()
    assert.are.equal("abfss://data@dr.dfs.core.windows.net/specialist/t",
      storage.map("abfss://data@prod.dfs.core.windows.net/specialist/t", mapping))
  end)
  it("returns nil and a reason for an unmapped location", function()
    local url, why = storage.map("abfss://other@prod.dfs.core.windows.net/t", mapping)
    assert.is_nil(url)
    assert.truthy(why:match("no storage mapping covers abfss://other@prod"))
  end)
end)

describe("replicate.shares", function()
  it("adds only what no share holds yet", function()
    local r = shares.assign({ drhost_dr_1 = { "c.s.a", "c.s.b" } }, { "c.s.a", "c.s.b", "c.s.c" }, { prefix = "drhost_dr" })
    assert.are.same({ drhost_dr_1 = { "c.s.c" } }, r.adds)
    assert.are.same({}, r.create)
    assert.are.equal("drhost_dr_1", r.location["c.s.a"])
  end)

  it("shards within the table and schema limits", function()
    local wanted = {}
    for s = 1, 7 do for t = 1, 5 do wanted[#wanted + 1] = string.format("c.s%d.t%d", s, t) end end
    local r = shares.assign({}, wanted, { prefix = "p", max_tables = 8, max_schemas = 3 })
    local per_share = {}
    for tbl, share in pairs(r.location) do
      per_share[share] = per_share[share] or { n = 0, schemas = {} }
      per_share[share].n = per_share[share].n + 1
      per_share[share].schemas[tbl:match("^(c%.s%d+)")] = true
    end
    for _, info in pairs(per_share) do
      assert.is_true(info.n <= 8)
      local ns = 0 for _ in pairs(info.schemas) do ns = ns + 1 end
      assert.is_true(ns <= 3)
    end
    assert.are.equal(35, (function() local n = 0 for _ in pairs(r.location) do n = n + 1 end return n end)())
    assert.are.equal(#r.create, (function() local n = 0 for _ in pairs(per_share) do n = n + 1 end return n end)())
  end)

  it("prefers a share that already holds the schema and numbers new shares after existing ones", function()
    local existing = { p_1 = { "c.a.t1" }, p_2 = { "c.b.t1" } }
    local r = shares.assign(existing, { "c.b.t2", "c.z.t1" }, { prefix = "p", max_tables = 2, max_schemas = 1 })
    assert.are.same({ "c.b.t2" }, r.adds.p_2)
    assert.are.same({ "p_3" }, r.create)
    assert.are.same({ "c.z.t1" }, r.adds.p_3)
  end)

  it("cuts batches", function()
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5 } }, shares.batches({ 1, 2, 3, 4, 5 }, 2))
  end)
end)

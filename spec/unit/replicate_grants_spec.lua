-- Grants diff: direct grants only, per principal, protected principals never revoked, only valid
-- privileges, principal mapping with unmapped principals reported. Property-style over random sets.
local grants = require("replicate.grants")

local SP_PROD = "11111111-1111-1111-1111-111111111111"
local SP_DR = "22222222-2222-2222-2222-222222222222"
local SP_UNMAPPED = "33333333-3333-3333-3333-333333333333"

local function S(...) local s = {} for _, v in ipairs({ ... }) do s[v] = true end return s end

describe("replicate.grants", function()
  it("adds what is missing and revokes extras, per principal", function()
    local desired = { analysts = S("SELECT"), etl = S("MODIFY", "SELECT") }
    local current = { analysts = S("SELECT", "MODIFY"), intruder = S("SELECT") }
    local changes = grants.diff(desired, current, {})
    assert.are.same({
      { principal = "analysts", remove = { "MODIFY" } },
      { principal = "etl", add = { "MODIFY", "SELECT" } },
      { principal = "intruder", remove = { "SELECT" } },
    }, changes)
  end)

  it("never revokes from protected principals but still adds to them", function()
    local desired = { ["dr-admins"] = S("USE_CATALOG") }
    local current = { ["dr-admins"] = S("ALL_PRIVILEGES"), ["job-sp"] = S("MANAGE") }
    local changes = grants.diff(desired, current, { "dr-admins", "job-sp" })
    assert.are.same({ { principal = "dr-admins", add = { "USE_CATALOG" } } }, changes)
  end)

  it("keeps only privileges valid for the securable and reports the others", function()
    local desired, notes = grants.desired({ bob = S("SELECT", "USE_CATALOG", "MODIFY") }, "view", {})
    assert.are.same({ bob = S("SELECT") }, desired)
    assert.are.same({ { principal = "bob", privilege = "MODIFY" }, { principal = "bob", privilege = "USE_CATALOG" } },
      notes.invalid)
  end)

  it("maps principals; UUID-shaped ids without a mapping are reported, names pass", function()
    local cfg = { map = { [SP_PROD] = SP_DR, ["old-group"] = false } }
    local desired, notes = grants.desired({
      [SP_PROD] = S("SELECT"), [SP_UNMAPPED] = S("SELECT"), analysts = S("SELECT"), ["old-group"] = S("SELECT"),
    }, "table", cfg)
    assert.are.same({ [SP_DR] = S("SELECT"), analysts = S("SELECT") }, desired)
    assert.are.same({ SP_UNMAPPED }, notes.unmapped)
    assert.are.same({ "old-group" }, notes.dropped)
  end)

  it("normalises SQL privilege spellings", function()
    assert.are.equal("USE_CATALOG", grants.normalize_privilege("use catalog"))
    assert.are.equal("READ_VOLUME", grants.normalize_privilege({ privilege = "READ VOLUME" }))
    assert.are.same({ a = S("USE_SCHEMA", "SELECT") },
      grants.to_map({ { principal = "a", privileges = { "USE SCHEMA" } }, { principal = "a", privileges = { "SELECT" } } }))
  end)

  it("refuses an unknown securable kind", function()
    local ok, err = pcall(grants.desired, {}, "metastore", {})
    assert.is_false(ok)
    assert.are.equal("INVALID_SECURABLE", err.code)
  end)

  -- Property: for random primary/secondary grant sets, after applying the diff the secondary's
  -- direct grants equal the mapped primary's (valid privileges only) plus whatever protected
  -- principals already had -- never more; and a second diff is empty.
  it("property: after sync the secondary equals the primary plus protected, never more", function()
    math.randomseed(42)
    local kinds = { "catalog", "schema", "table", "view", "volume", "function" }
    local all_privs = { "ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_SCHEMA", "CREATE_TABLE", "EXECUTE",
      "MANAGE", "MODIFY", "READ_VOLUME", "SELECT", "USE_CATALOG", "USE_SCHEMA", "WRITE_VOLUME" }
    local people = { "analysts", "etl", "bob@example.com", "dr-admins", "job-sp", SP_PROD, SP_UNMAPPED }
    local protected = { "dr-admins", "job-sp" }
    local pset = S(table.unpack(protected))
    local cfg = { map = { [SP_PROD] = SP_DR } }
    local function random_grants(pool)
      local g = {}
      for _, p in ipairs(pool) do
        if math.random() < 0.6 then
          local s = {}
          for _, priv in ipairs(all_privs) do if math.random() < 0.25 then s[priv] = true end end
          if next(s) then g[p] = s end
        end
      end
      return g
    end
    for _ = 1, 300 do
      local kind = kinds[math.random(#kinds)]
      local source = random_grants(people)
      local current = random_grants({ "analysts", "etl", "intruder", "dr-admins", "job-sp", SP_DR })
      local desired = grants.desired(source, kind, cfg)
      local changes = grants.diff(desired, current, protected)
      local after = grants.apply(current, changes)
      -- expected: desired, plus protected principals' previous grants
      local expected = {}
      for p, s in pairs(desired) do expected[p] = {} for k in pairs(s) do expected[p][k] = true end end
      for p, s in pairs(current) do
        if pset[p] then
          expected[p] = expected[p] or {}
          for k in pairs(s) do expected[p][k] = true end
        end
      end
      assert.are.same(expected, after)
      -- never more than the primary for non-protected principals, never an invalid privilege added
      for p, s in pairs(after) do
        if not pset[p] then
          for priv in pairs(s) do
            assert.is_true(grants.valid[kind][priv] == true)
            local src_p = (p == SP_DR) and SP_PROD or p
            assert.is_true(source[src_p] ~= nil and source[src_p][priv] == true, p .. " " .. priv)
          end
        end
      end
      assert.are.same({}, grants.diff(desired, after, protected))
    end
  end)
end)

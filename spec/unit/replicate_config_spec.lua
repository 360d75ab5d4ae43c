-- Replication config validation: specific errors naming file, key and expectation.
local config = require("replicate.config")

local function base()
  return { catalogs = { sales = "sales", finance = "finance_dr" } }
end

local function err_of(raw)
  local ok, err = pcall(config.validate, raw, "env/dr.replication.lua")
  assert.is_false(ok, "expected an error")
  assert.are.equal("CONFIG_INVALID", err.code)
  return err.message
end

describe("replicate.config", function()
  it("fills defaults for a minimal config", function()
    local cfg = config.validate(base(), "f.lua")
    assert.are.equal(8, cfg.parallelism)
    assert.are.equal("finance_dr", cfg.catalogs.finance)
    assert.are.equal("skip", cfg.protected_tables)
    assert.is_false(cfg.prune)
    assert.are.equal("drhost_ops", cfg.state.catalog)
  end)

  it("defaults the sharing recipient to drhost_dr, the name the deployment creates in prod", function()
    local cfg = config.validate(base(), "f.lua")
    assert.are.equal("drhost_dr", cfg.sharing.recipient)
    local deployed = require("deploy.components.replication").settings({})
    assert.are.equal(cfg.sharing.recipient, deployed.recipient)
    assert.are.equal(cfg.sharing.share_prefix, deployed.share_prefix)
    assert.are.equal(cfg.sharing.catalog_prefix, deployed.catalog_prefix)
  end)

  it("names the file and the key", function()
    local raw = base(); raw.parallelism = 0
    local msg = err_of(raw)
    assert.truthy(msg:find("env/dr.replication.lua: parallelism: expected an integer from 1 to 64, got number 0", 1, true) == 1, msg)
  end)

  it("refuses unknown keys at every level, naming their path and listing the known ones", function()
    local raw = base(); raw.paralelism = 4
    assert.truthy(err_of(raw):find("env/dr.replication.lua: paralelism: expected one of the known keys (catalogs, clone_strategy",
      1, true))
    raw = base(); raw.sharing = { recipent = "x" }
    assert.truthy(err_of(raw):find("sharing.recipent: expected one of the known keys (batch, catalog_prefix, max_schemas", 1, true))
  end)

  it("refuses missing or list-shaped catalogs", function()
    assert.truthy(err_of({}):find("catalogs: expected a non-empty map { source_catalog = \"target_catalog\" }, got nothing", 1, true))
    assert.truthy(err_of({ catalogs = { "sales" } }):find("catalogs[1]: expected a key that is a source catalog name", 1, true))
  end)

  it("refuses system catalogs and two sources on one target", function()
    assert.truthy(err_of({ catalogs = { system = "system2" } }):find(
      "catalogs.system: expected a catalog that may be replicated (system, internal and hive_metastore never are)", 1, true))
    assert.truthy(err_of({ catalogs = { a = "x", b = "x" } }):match("already maps to"))
  end)

  it("checks storage prefixes, principals, hooks and prune settings", function()
    local raw = base(); raw.storage = { ["not a url"] = "abfss://x@y/" }
    assert.truthy(err_of(raw):find("storage[\"not a url\"]: expected a key that is a URL prefix like abfss://", 1, true))
    raw = base(); raw.principals = { map = { a = 5 } }
    assert.truthy(err_of(raw):find("principals.map.a: expected the target principal", 1, true))
    raw = base(); raw.principals = { unmapped = "ignore" }
    assert.truthy(err_of(raw):find("principals.unmapped: expected one of \"keep_names\", \"keep\", \"skip\"", 1, true))
    raw = base(); raw.hooks = { filter = "yes" }
    assert.truthy(err_of(raw):find("hooks.filter: expected a function, got string \"yes\"", 1, true))
    raw = base(); raw.prune_max_fraction = 2
    assert.truthy(err_of(raw):find("prune_max_fraction: expected a number from 0 to 1, got number 2", 1, true))
    raw = base(); raw.protected_tables = "clone"
    assert.truthy(err_of(raw):find("protected_tables: expected \"skip\" or \"metadata_only\"", 1, true))
    raw = base(); raw.state = { catalog = "sales" }
    assert.truthy(err_of(raw):find("state.catalog: expected a catalog that is not replicated", 1, true))
    raw = base(); raw.target = { host = "http://x" }
    assert.truthy(err_of(raw):find("target.host: expected a URL starting with https://, got string \"http://x\"", 1, true))
  end)

  it("selects by include/exclude globs", function()
    local cfg = config.validate({ catalogs = { sales = "sales" }, include = { "sales" }, exclude = { "*.tmp_*", "sales.scratch" } }, "f")
    assert.is_true(config.selected(cfg, "sales.core.orders"))
    assert.is_false(config.selected(cfg, "sales.core.tmp_x"))
    assert.is_false(config.selected(cfg, "sales.scratch.t"))
    assert.is_false(config.selected(cfg, "other.core.t"))
  end)

  it("loads the shipped env/dr.replication.lua", function()
    local cfg = config.load("env/dr.replication.lua")
    assert.is_table(cfg.catalogs)
  end)

  it("reports a missing file and a syntax error with the path", function()
    local ok, err = pcall(config.load, "env/does-not-exist.lua")
    assert.is_false(ok); assert.are.equal("CONFIG_NOT_FOUND", err.code)
    local path = os.tmpname()
    local f = io.open(path, "w"); f:write("return { catalogs = "); f:close()
    ok, err = pcall(config.load, path)
    os.remove(path)
    assert.is_false(ok); assert.are.equal("CONFIG_SYNTAX", err.code)
    assert.truthy(err.message:find(path, 1, true))
  end)

  it("refuses two storage prefixes that differ by a trailing slash and map to different targets", function()
    local raw = base()
    raw.storage = { ["abfss://c@prod.dfs.core.windows.net/ext"] = "abfss://c@dr.dfs.core.windows.net/ext",
      ["abfss://c@prod.dfs.core.windows.net/ext/"] = "abfss://c@dr.dfs.core.windows.net/other/" }
    local msg = err_of(raw)
    assert.truthy(msg:find("storage[\"abfss://c@prod.dfs.core.windows.net/ext/\"]: expected the same target as "
      .. "storage[\"abfss://c@prod.dfs.core.windows.net/ext\"]", 1, true), msg)
    -- the same target written two ways is one mapping
    raw.storage["abfss://c@prod.dfs.core.windows.net/ext/"] = "abfss://c@dr.dfs.core.windows.net/ext/"
    assert.is_table(config.validate(raw, "f.lua").storage)
  end)

  it("gives config files and their hooks the basics, and a print that goes to the log", function()
    local path = os.tmpname()
    local f = io.open(path, "w")
    f:write([[
local names = {}
for _, n in ipairs({ "sales" }) do names[n] = n end
assert(type(next(names)) == "string" and select("#", 1, 2) == 2 and tostring(math.floor(2.5)) == "2")
return { catalogs = names, hooks = {
  filter = function(obj)
    print("filter", obj.kind, obj.full)
    if type(obj.name) ~= "string" then error("no name") end
    local n = 0
    for _ in pairs(obj.tags) do n = n + 1 end
    return n == 0 and tonumber("1") == 1 and string.sub(obj.name, 1, 4) ~= "tmp_" and table.concat({ "a" }) == "a"
  end } }
]])
    f:close()
    local ok, cfg = pcall(config.load, path)
    os.remove(path)
    assert.is_true(ok, tostring(cfg))
    local log = require("log")
    local level = log.level()
    log.set_level("error")   -- the print lines are info: keep the spec's output quiet
    local okh, keep = pcall(cfg.hooks.filter, { kind = "table", full = "sales.core.t", name = "t", tags = {} })
    local okt, tmp = pcall(cfg.hooks.filter, { kind = "table", full = "sales.core.tmp_t", name = "tmp_t", tags = {} })
    log.set_level(level)
    assert.is_true(okh, tostring(keep)); assert.is_true(keep)
    assert.is_true(okt, tostring(tmp)); assert.is_false(tmp)
  end)
end)

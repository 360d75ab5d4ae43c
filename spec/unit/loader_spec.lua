-- modules/loader.lua: sandboxed loading of env/config files and schema checks whose errors name
-- the user's file, the key's full path and what was expected.
local loader = require("loader")
local S = loader.schema

local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

local function write(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function raised(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return e
end

local schema = S.record{
  name = S.string{ required = true, pattern = "^[a-z]+$", what = "a lower-case name" },
  debug = S.boolean{ default = false },
  size = S.integer{ min = 1, max = 10 },
  hosts = S.list(S.string{ what = "a host name" }),
  spokes = S.map(S.record{ cidr = S.string{ required = true }, private = S.boolean{} }),
  mode = S.enum{ "a", "b" },
}

describe("loader", function()
  it("loads a file in a sandbox holding only the named globals", function()
    local p = write("ok.lua", "return { name = os.getenv('LOADER_SPEC_UNSET') or 'x' }")
    local t = loader.load(p, { schema = schema, globals = { os = { getenv = os.getenv } } })
    assert.equal("x", t.name)
    assert.is_false(t.debug)  -- the schema's default
    local q = write("io.lua", "return { name = io and 'io' or 'none' }")
    assert.equal("none", loader.load(q).name)
  end)

  it("names the file for a missing file, a syntax error, a runtime error and a non-table", function()
    local e = raised(loader.load, dir .. "/missing.lua")
    assert.equal("CONFIG_NOT_FOUND", e.code)
    assert.matches("missing.lua: config file not found", e.message, 1, true)
    e = raised(loader.load, write("syntax.lua", "return {"))
    assert.equal("CONFIG_INVALID", e.code)
    assert.matches("syntax.lua:1:", e.message, 1, true)
    e = raised(loader.load, write("boom.lua", "local t = nil; return t.x"))
    assert.matches("boom.lua:1: attempt to index", e.message, 1, true)
    e = raised(loader.load, write("num.lua", "return 3"))
    assert.matches("num.lua: expected the file to return a table, got number 3", e.message, 1, true)
  end)

  it("takes a sandbox table as it is, and distinct codes for syntax and runtime errors", function()
    local p = write("g.lua", "return { name = type(1) }")
    assert.equal("number", loader.run(p, { sandbox = setmetatable({}, { __index = _G }) }).name)
    local e = raised(loader.run, write("s.lua", "return {"), { syntax_code = "CONFIG_SYNTAX", run_code = "CONFIG_ERROR" })
    assert.equal("CONFIG_SYNTAX", e.code)
    e = raised(loader.run, write("r.lua", "return nil .. 1"), { syntax_code = "CONFIG_SYNTAX", run_code = "CONFIG_ERROR" })
    assert.equal("CONFIG_ERROR", e.code)
  end)

  it("type-checks every key at every level and names the full path", function()
    local p = write("bad.lua", [[return { name = "ok", debug = "false", size = 2.5, hosts = { "a", 3 },
      spokes = { sales = { cidr = "x", private = "false" }, ops = {} }, mode = "c" }]])
    local e = raised(loader.load, p, { schema = schema, code = "ENV_INVALID" })
    assert.equal("ENV_INVALID", e.code)
    assert.equal(p, e.details.file)
    local m = e.message
    assert.matches(p .. ': debug: expected boolean, got string "false"', m, 1, true)
    assert.matches(p .. ": size: expected an integer from 1 to 10, got number 2.5", m, 1, true)
    assert.matches(p .. ": hosts[2]: expected a host name, got number 3", m, 1, true)
    assert.matches(p .. ': spokes.sales.private: expected boolean, got string "false"', m, 1, true)
    assert.matches(p .. ": spokes.ops.cidr: expected a string, got nothing", m, 1, true)
    assert.matches(p .. ': mode: expected one of "a", "b", got string "c"', m, 1, true)
    assert.equal(6, #e.details.problems)
  end)

  it("refuses unknown keys at any level", function()
    local list = loader.problems({ name = "x", nmae = "y", spokes = { a = { cidr = "c", cird = "d" } },
      ["odd key"] = 1 }, schema, "f.lua")
    local texts = {}
    for _, p in ipairs(list) do texts[#texts + 1] = p.text end
    local m = table.concat(texts, "\n")
    assert.matches("f.lua: nmae: expected one of the known keys (debug, hosts, mode, name, size, spokes), got unknown key",
      m, 1, true)
    assert.matches("f.lua: spokes.a.cird: expected one of the known keys (cidr, private), got unknown key", m, 1, true)
    assert.matches('f.lua: ["odd key"]: expected one of the known keys', m, 1, true)
  end)

  it("refuses a map where a list is expected", function()
    local list = loader.problems({ name = "x", hosts = { a = "b" } }, schema, "f.lua")
    assert.equal(1, #list)
    assert.matches("f.lua: hosts.a: expected a list of a host name %(a list, not a map%)", list[1].text)
  end)
end)

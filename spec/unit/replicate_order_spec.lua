-- luacheck: max line length 160
-- Dependency order for views (topological, stable, cycles reported).
local order = require("dag")

local function pos(list)
  local p = {}
  for i, k in ipairs(list) do p[k] = i end
  return p
end

describe("dag.toposort (replicated views)", function()
  it("puts dependencies first and breaks ties by name", function()
    local nodes = { "c.s.v3", "c.s.v1", "c.t.v2", "c.s.v0" }
    local deps = { ["c.s.v3"] = { "c.t.v2", "c.s.v1" }, ["c.t.v2"] = { "c.s.v1", "c.s.base" }, ["c.s.v1"] = {} }
    local o, cycles = order.toposort(nodes, deps)
    assert.are.same({ "c.s.v0", "c.s.v1", "c.t.v2", "c.s.v3" }, o)
    assert.are.same({}, cycles)
  end)

  it("ignores dependencies outside the set (tables come earlier)", function()
    local o = order.toposort({ "v" }, { v = { "some.table.x" } })
    assert.are.same({ "v" }, o)
  end)

  it("reports cycles and the views blocked behind them, ordering the rest", function()
    local nodes = { "a", "b", "c", "d", "e", "self" }
    local deps = { a = { "b" }, b = { "c" }, c = { "a" }, d = { "a" }, e = {}, self = { "self" } }
    local o, cycles, blocked = order.toposort(nodes, deps)
    assert.are.same({ "e" }, o)
    assert.are.same({ { members = { "a", "b", "c" } }, { members = { "self" } } }, cycles)
    assert.are.same({ "d" }, blocked)
  end)

  it("orders random DAGs so that every edge points backwards", function()
    math.randomseed(7)
    for _ = 1, 50 do
      local n = math.random(1, 30)
      local nodes, deps = {}, {}
      for i = 1, n do nodes[i] = string.format("v%02d", i) end
      for i = 1, n do
        deps[nodes[i]] = {}
        for j = 1, i - 1 do
          if math.random() < 0.2 then table.insert(deps[nodes[i]], nodes[j]) end
        end
      end
      -- shuffle the node list: the order must not depend on it
      for i = n, 2, -1 do local j = math.random(i); nodes[i], nodes[j] = nodes[j], nodes[i] end
      local o, cycles = order.toposort(nodes, deps)
      assert.are.equal(n, #o)
      assert.are.equal(0, #cycles)
      local p = pos(o)
      for k, ds in pairs(deps) do
        for _, d in ipairs(ds) do assert.is_true(p[d] < p[k], d .. " before " .. k) end
      end
    end
  end)
end)

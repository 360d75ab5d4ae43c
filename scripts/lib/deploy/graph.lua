-- Dependency graph over declared resources: topological order (declaration order breaks ties),
-- cycle errors naming the cycle, waves of independent nodes, target subsets.
local resource = require("deploy.resource")
local err = require("deploy.err")

local M = {}

--- build(resources): {nodes = list, deps = {res -> list}, rdeps = {res -> list}}.
function M.build(resources)
  local member = {}
  for _, r in ipairs(resources) do member[r] = true end
  local g = { nodes = resources, deps = {}, rdeps = {} }
  for _, r in ipairs(resources) do g.rdeps[r] = {} end
  for _, r in ipairs(resources) do
    local list = {}
    for d in pairs(resource.deps(r)) do
      if not member[d] then
        err.raise("UNKNOWN_DEPENDENCY", r.addr .. " depends on " .. tostring(d.addr) ..
          ", which is not declared in this stack", { target = r.addr })
      end
      list[#list + 1] = d
    end
    table.sort(list, function(a, b) return a.index < b.index end)
    g.deps[r] = list
    for _, d in ipairs(list) do table.insert(g.rdeps[d], r) end
  end
  return g
end

local function find_cycle(g, remaining)
  -- DFS over the remaining nodes to report one cycle as "a -> b -> a".
  local color, stack = {}, {}
  local found
  local function visit(n)
    color[n] = 1
    stack[#stack + 1] = n
    for _, d in ipairs(g.deps[n]) do
      if remaining[d] then
        if color[d] == 1 then
          local cyc, start = {}, nil
          for i, x in ipairs(stack) do if x == d then start = i end end
          for i = start, #stack do cyc[#cyc + 1] = stack[i].addr end
          cyc[#cyc + 1] = d.addr
          found = cyc
          return true
        elseif not color[d] and visit(d) then
          return true
        end
      end
    end
    stack[#stack] = nil
    color[n] = 2
    return false
  end
  for _, n in ipairs(g.nodes) do
    if remaining[n] and not color[n] and visit(n) then break end
  end
  return found
end

--- waves(g, subset): list of waves (lists of nodes) where every node's deps are in earlier waves.
-- Raises DEPENDENCY_CYCLE naming the cycle.
function M.waves(g, subset)
  local remaining, count = {}, 0
  for _, n in ipairs(g.nodes) do
    if not subset or subset[n] then remaining[n] = true; count = count + 1 end
  end
  local waves = {}
  while count > 0 do
    local wave = {}
    for _, n in ipairs(g.nodes) do
      if remaining[n] then
        local ready = true
        for _, d in ipairs(g.deps[n]) do
          if remaining[d] then ready = false; break end
        end
        if ready then wave[#wave + 1] = n end
      end
    end
    if #wave == 0 then
      local cyc = find_cycle(g, remaining)
      err.raise("DEPENDENCY_CYCLE", "dependency cycle: " .. table.concat(cyc or { "?" }, " -> "),
        { details = { cycle = cyc } })
    end
    for _, n in ipairs(wave) do remaining[n] = nil; count = count - 1 end
    waves[#waves + 1] = wave
  end
  return waves
end

--- order(g, subset): flat topological order.
function M.order(g, subset)
  local out = {}
  for _, w in ipairs(M.waves(g, subset)) do
    for _, n in ipairs(w) do out[#out + 1] = n end
  end
  return out
end

--- closure(g, targets): the set of targets plus everything they depend on (transitively).
function M.closure(g, targets)
  local set = {}
  local function add(n)
    if set[n] then return end
    set[n] = true
    for _, d in ipairs(g.deps[n]) do add(d) end
  end
  for _, t in ipairs(targets) do add(t) end
  return set
end

--- dependents(g, node): everything that depends on node (transitively), as a set.
function M.dependents(g, node)
  local set = {}
  local function add(n)
    for _, r in ipairs(g.rdeps[n] or {}) do
      if not set[r] then set[r] = true; add(r) end
    end
  end
  add(node)
  return set
end

return M

-- dag: dependency graphs over a list of nodes, for the task runtime's walk (modules/task.lua) and
-- for ordering (deployment resources, replicated views).
--
--   local g = dag.new(nodes, function(n) return n.needs end, { name = function(n) return n.addr end })
--   for _, wave in ipairs(g:waves()) do ... end      -- raises DEPENDENCY_CYCLE naming the cycle
--   local set = g:closure({ target })                 -- target and everything it needs
--
-- Declaration order (the position in `nodes`) breaks every tie. Reference: docs/architecture.md.
local errors = require("errors")

local M = {}

local Graph = {}
Graph.__index = Graph

--- dag.new(nodes, deps_of, opts) -> graph {nodes=, deps = {node -> list}, rdeps = {node -> list}}.
-- deps_of(node) returns the nodes it depends on (a list, or a set when opts.set is true). A
-- dependency outside `nodes` calls opts.unknown(node, dep) (which may raise) or is ignored.
-- opts.name(node) names nodes in cycle errors (default tostring).
function M.new(nodes, deps_of, opts)
  opts = opts or {}
  local pos = {}
  for i, n in ipairs(nodes) do pos[n] = i end
  local g = setmetatable({ nodes = nodes, deps = {}, rdeps = {}, pos = pos, name = opts.name or tostring },
    Graph)
  for _, n in ipairs(nodes) do g.rdeps[n] = {} end
  for _, n in ipairs(nodes) do
    local list, seen = {}, {}
    local function add(d)
      if seen[d] then return end
      if pos[d] then
        seen[d] = true
        list[#list + 1] = d
      elseif opts.unknown then
        opts.unknown(n, d)
      end
    end
    local ds = deps_of(n) or {}
    if opts.set then for d in pairs(ds) do add(d) end else for _, d in ipairs(ds) do add(d) end end
    table.sort(list, function(a, b) return pos[a] < pos[b] end)
    g.deps[n] = list
    for _, d in ipairs(list) do table.insert(g.rdeps[d], n) end
  end
  return g
end

-- One cycle among `remaining` as a list of names "a", "b", "a".
local function find_cycle(g, remaining)
  local color, stack, found = {}, {}, nil
  local function visit(n)
    color[n] = 1
    stack[#stack + 1] = n
    for _, d in ipairs(g.deps[n]) do
      if remaining[d] then
        if color[d] == 1 then
          local cyc, start = {}, 1
          for i, x in ipairs(stack) do if x == d then start = i end end
          for i = start, #stack do cyc[#cyc + 1] = g.name(stack[i]) end
          cyc[#cyc + 1] = g.name(d)
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

--- g:waves(subset) -> list of waves (lists of nodes), every node after all its dependencies.
-- subset (a set of nodes, optional) restricts the walk. Raises DEPENDENCY_CYCLE naming a cycle.
function Graph:waves(subset)
  local remaining, count = {}, 0
  for _, n in ipairs(self.nodes) do
    if not subset or subset[n] then remaining[n] = true; count = count + 1 end
  end
  local waves = {}
  while count > 0 do
    local wave = {}
    for _, n in ipairs(self.nodes) do
      if remaining[n] then
        local ready = true
        for _, d in ipairs(self.deps[n]) do
          if remaining[d] then ready = false; break end
        end
        if ready then wave[#wave + 1] = n end
      end
    end
    if #wave == 0 then
      local cyc = find_cycle(self, remaining) or { "?" }
      errors.raise("DEPENDENCY_CYCLE", "dependency cycle: " .. table.concat(cyc, " -> "),
        { details = { cycle = cyc } }, 2)
    end
    for _, n in ipairs(wave) do remaining[n] = nil; count = count - 1 end
    waves[#waves + 1] = wave
  end
  return waves
end

--- g:order(subset) -> the nodes in one flat dependency order.
function Graph:order(subset)
  local out = {}
  for _, w in ipairs(self:waves(subset)) do
    for _, n in ipairs(w) do out[#out + 1] = n end
  end
  return out
end

--- g:closure(targets) -> set of the targets and everything they depend on, transitively.
function Graph:closure(targets)
  local set = {}
  local function add(n)
    if set[n] then return end
    set[n] = true
    for _, d in ipairs(self.deps[n]) do add(d) end
  end
  for _, t in ipairs(targets) do add(t) end
  return set
end

--- dag.toposort(keys, deps) -> order, cycles, blocked. keys: list of names; deps: map key -> list
-- of keys it depends on (keys outside `keys` are ignored: objects handled earlier). Ties are broken
-- by name (a stable order for replicated views). Nothing is raised for a cycle: `cycles` lists
-- { members = {...} } for every strongly connected group that could not be ordered, `blocked` the
-- keys that only wait on such a group.
function M.toposort(keys, deps)
  local in_set, indeg, users = {}, {}, {}
  for _, k in ipairs(keys) do in_set[k] = true; indeg[k] = 0; users[k] = {} end
  for _, k in ipairs(keys) do
    local seen = {}
    for _, d in ipairs(deps[k] or {}) do
      if in_set[d] and d ~= k and not seen[d] then
        seen[d] = true
        indeg[k] = indeg[k] + 1
        table.insert(users[d], k)
      elseif d == k then
        indeg[k] = indeg[k] + 1 -- self reference: a cycle of one
        seen[d] = true
      end
    end
  end
  local function by_name_desc(a, b) return a > b end
  local ready = {}
  for _, k in ipairs(keys) do if indeg[k] == 0 then ready[#ready + 1] = k end end
  table.sort(ready, by_name_desc) -- pop from the end = smallest name
  local order = {}
  while #ready > 0 do
    local k = table.remove(ready)
    order[#order + 1] = k
    local added = false
    for _, u in ipairs(users[k]) do
      indeg[u] = indeg[u] - 1
      if indeg[u] == 0 then ready[#ready + 1] = u; added = true end
    end
    if added then table.sort(ready, by_name_desc) end
  end
  local cycles, blocked = {}, {}
  if #order < #keys then
    local left = {}
    for _, k in ipairs(keys) do if indeg[k] > 0 then left[k] = true end end
    -- Tarjan's SCC on what is left, to tell cycle members from keys merely waiting on a cycle.
    local index, low, onstack, stack, counter, sccs = {}, {}, {}, {}, 0, {}
    local function strong(v)
      counter = counter + 1; index[v] = counter; low[v] = counter
      stack[#stack + 1] = v; onstack[v] = true
      for _, d in ipairs(deps[v] or {}) do
        if left[d] then
          if not index[d] then strong(d); low[v] = math.min(low[v], low[d])
          elseif onstack[d] then low[v] = math.min(low[v], index[d]) end
        end
      end
      if low[v] == index[v] then
        local comp = {}
        repeat
          local w = table.remove(stack); onstack[w] = nil; comp[#comp + 1] = w
        until w == v
        sccs[#sccs + 1] = comp
      end
    end
    local left_sorted = {}
    for k in pairs(left) do left_sorted[#left_sorted + 1] = k end
    table.sort(left_sorted)
    for _, k in ipairs(left_sorted) do if not index[k] then strong(k) end end
    for _, comp in ipairs(sccs) do
      local self_loop = false
      for _, d in ipairs(deps[comp[1]] or {}) do if d == comp[1] then self_loop = true end end
      if #comp > 1 or self_loop then
        table.sort(comp)
        cycles[#cycles + 1] = { members = comp }
      else
        blocked[#blocked + 1] = comp[1]
      end
    end
    table.sort(cycles, function(a, b) return a.members[1] < b.members[1] end)
    table.sort(blocked)
  end
  return order, cycles, blocked
end

return M

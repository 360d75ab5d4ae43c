-- luacheck: max line length 160
-- Dependency order for objects that reference each other (views on views, functions used by
-- views): a stable topological sort (Kahn) that reports cycles instead of failing the whole run.
local M = {}

-- nodes: list of keys. deps: map key -> list of keys it depends on (keys outside `nodes` are
-- ignored: they are tables or objects handled by an earlier phase).
-- Returns order (list of keys, dependencies first; ties broken by name) and cycles: a list of
-- { members = {...} } for every strongly connected group that could not be ordered (plus the keys
-- that only depend on such a group, listed in `blocked`).
function M.toposort(nodes, deps)
  local in_set, indeg, users = {}, {}, {}
  for _, k in ipairs(nodes) do in_set[k] = true; indeg[k] = 0; users[k] = {} end
  for _, k in ipairs(nodes) do
    local seen = {}
    for _, d in ipairs(deps[k] or {}) do
      if in_set[d] and d ~= k and not seen[d] then
        seen[d] = true
        indeg[k] = indeg[k] + 1
        table.insert(users[d], k)
      elseif d == k then
        indeg[k] = indeg[k] + 1   -- self reference: a cycle of one
        seen[d] = true
      end
    end
  end
  local ready = {}
  for _, k in ipairs(nodes) do if indeg[k] == 0 then ready[#ready + 1] = k end end
  table.sort(ready, function(a, b) return a > b end)   -- pop from the end = smallest name
  local order = {}
  while #ready > 0 do
    local k = table.remove(ready)
    order[#order + 1] = k
    local added = false
    for _, u in ipairs(users[k]) do
      indeg[u] = indeg[u] - 1
      if indeg[u] == 0 then ready[#ready + 1] = u; added = true end
    end
    if added then table.sort(ready, function(a, b) return a > b end) end
  end
  local cycles, blocked = {}, {}
  if #order < #nodes then
    local left = {}
    for _, k in ipairs(nodes) do if indeg[k] > 0 then left[k] = true end end
    -- Tarjan's SCC on what is left, to tell cycle members from keys merely waiting on a cycle.
    local index, low, onstack, stack, counter = {}, {}, {}, {}, 0
    local sccs = {}
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

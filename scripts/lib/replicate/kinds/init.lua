-- The registry of replicated Unity Catalog kinds. Each kind is one module beside this file that
-- owns everything particular to it: where discovery lists it and how a listed object is
-- normalised, its SQL keyword and permissions securable type, its valid privileges, the
-- information_schema views its grants and tags are read from, the plan phases it adds, its rank
-- when pruned, and its planning. inventory.lua, plan.lua and grants.lua loop over this registry;
-- adding a kind is adding a module and naming it in ORDER (docs/replication.md, "Adding a kind").
--
-- A kind module returns a table with:
--   collection   the inventory table holding its objects (inv.catalogs, inv.tables, ...);
--                kinds may share one (tables and views), told apart by `match(obj)`
--   sql          the SQL keyword (ALTER <sql> ... OWNER TO, DROP <sql>)
--   securable    the /permissions/{type}/ segment
--   privileges   the privileges valid on it, as the REST API spells them
--   depth        parts of its full name (1 catalog, 2 schema, 3 objects in a schema)
--   tags         true when it carries tags (SET TAGS), `column_tags` for per-column tags
--   list         optional: { path=, key= } listing it per schema (discovery)
--   normalise    optional: (API object, lean) -> inventory object; lean for dr's side, whose
--                objects keep only what the plan compares
--   privilege_view, tag_views   optional: information_schema views ({ view=, cols= })
--   phases       optional: { name = position } plan phases it adds (plan.lua orders them)
--   prune_rank   optional: order of drops (lower first); nil: never pruned
--   renames      true when the rename hook may rename it
--   policies     the policy hook results it accepts and what each means
--   selected(p, full)  optional: in scope by include/exclude (default config.selected)
--   plan(p)      plans its objects on the planner p (plan.lua)
local M = {}

-- Planning order: a kind's plan may rely on the targets of the kinds before it.
M.ORDER = { "catalog", "schema", "table", "function", "view", "volume" }
-- Listing order of securables (grants, tags, owners): as discovery reports them.
M.SECURABLE_ORDER = { "catalog", "schema", "table", "view", "volume", "function" }

M.by_name = {}
for _, name in ipairs(M.ORDER) do
  local k = require("replicate.kinds." .. name)
  k.name = name
  M.by_name[name] = k
end

-- Inventory collections, in securable order, each with the kinds it holds.
M.collections, M.of_collection = {}, {}
for _, name in ipairs(M.SECURABLE_ORDER) do
  local k = M.by_name[name]
  if not M.of_collection[k.collection] then
    M.collections[#M.collections + 1] = k.collection
    M.of_collection[k.collection] = {}
  end
  table.insert(M.of_collection[k.collection], k)
end

-- The kind of an inventory object found in `collection`.
function M.kind_of(collection, obj)
  for _, k in ipairs(M.of_collection[collection] or {}) do
    if not k.match or k.match(obj) then return k end
  end
end

function M.get(name) return M.by_name[name] end

-- Every kind in planning order.
function M.each()
  local i = 0
  return function()
    i = i + 1
    local name = M.ORDER[i]
    if name then return M.by_name[name] end
  end
end

-- Objects of an inventory side in securable order: calls fn(kind, full, obj).
function M.each_object(inv, fn)
  local util = require("replicate.util")
  for _, coll in ipairs(M.collections) do
    local objects = inv[coll] or {}
    for _, full in ipairs(util.sorted_keys(objects)) do
      local obj = objects[full]
      fn(M.kind_of(coll, obj), full, obj)
    end
  end
end

-- The object a side has under `full`, for a kind.
function M.lookup(inv, kind, full)
  local k = type(kind) == "string" and M.by_name[kind] or kind
  return (inv[k.collection] or {})[full]
end

return M

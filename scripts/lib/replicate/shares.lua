-- Share sharding on the primary: every table the secondary clones through Delta Sharing must be in
-- one of our shares. A share holds at most `max_tables` tables and `max_schemas` distinct schemas
-- (Databricks: 1,000 and 500). Only what no share holds yet is added; tables go preferably to a
-- share that already holds their schema, then to one with room, then to a new share.
local util = require("replicate.util")

local M = {}

local function schema_of(full)
  local p = util.split_name(full)
  return p[1] .. "." .. p[2]
end

-- existing: { [share_name] = { "cat.sch.tbl", ... } } (only our shares, i.e. named prefix_N).
-- wanted: list of "cat.sch.tbl". opts = { prefix=, max_tables=1000, max_schemas=500 }.
-- Returns { adds = { [share] = {tables...} }, create = { share names to create }, location =
-- { [table] = share } for every wanted table }.
function M.assign(existing, wanted, opts)
  opts = opts or {}
  local max_t, max_s = opts.max_tables or 1000, opts.max_schemas or 500
  local prefix = opts.prefix or "drhost_dr"
  local shares = {}       -- name -> { tables = n, schemas = set, nschemas = n }
  local where = {}        -- table -> share
  local names = util.sorted_keys(existing or {})
  local highest = 0
  for _, name in ipairs(names) do
    local info = { tables = 0, schemas = {}, nschemas = 0 }
    for _, t in ipairs(existing[name]) do
      local key = t:lower()
      where[key] = where[key] or name
      info.tables = info.tables + 1
      local s = schema_of(key)
      if not info.schemas[s] then info.schemas[s] = true; info.nschemas = info.nschemas + 1 end
    end
    shares[name] = info
    local n = tonumber(name:match("_(%d+)$"))
    if n and n > highest then highest = n end
  end
  local adds, create, location = {}, {}, {}
  local order = util.copy(names)
  local sorted_wanted = util.copy(wanted)
  table.sort(sorted_wanted)
  for _, t in ipairs(sorted_wanted) do
    local key = t:lower()
    if where[key] then
      location[t] = where[key]
    else
      local s = schema_of(key)
      local chosen
      for _, name in ipairs(order) do     -- a share that already has the schema
        local info = shares[name]
        if info.schemas[s] and info.tables < max_t then chosen = name; break end
      end
      if not chosen then
        for _, name in ipairs(order) do   -- a share with room for one more table and schema
          local info = shares[name]
          if info.tables < max_t and info.nschemas < max_s then chosen = name; break end
        end
      end
      if not chosen then
        highest = highest + 1
        chosen = prefix .. "_" .. highest
        shares[chosen] = { tables = 0, schemas = {}, nschemas = 0 }
        order[#order + 1] = chosen
        create[#create + 1] = chosen
      end
      local info = shares[chosen]
      info.tables = info.tables + 1
      if not info.schemas[s] then info.schemas[s] = true; info.nschemas = info.nschemas + 1 end
      where[key] = chosen
      location[t] = chosen
      adds[chosen] = adds[chosen] or {}
      table.insert(adds[chosen], t)
    end
  end
  return { adds = adds, create = create, location = location }
end

-- Split a list into batches of at most n (share updates are sent in batches).
function M.batches(list, n)
  local out, cur = {}, {}
  for _, v in ipairs(list) do
    cur[#cur + 1] = v
    if #cur >= n then out[#out + 1] = cur; cur = {} end
  end
  if #cur > 0 then out[#out + 1] = cur end
  return out
end

return M

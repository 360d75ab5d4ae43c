-- Grants: the per-principal diff between the primary's DIRECT grants on a securable and the
-- secondary's. Only privileges valid for the securable are carried; principals go through the
-- mapping (a service principal's application id differs per region); whatever the secondary has
-- beyond the primary is revoked, except for protected principals (the job's identity, break-glass
-- groups), whose grants are never removed. Effective/inherited grants are never an input here:
-- callers pass direct grants only.
local errors = require("errors")
local util = require("replicate.util")
local kinds = require("replicate.kinds")

local M = {}

-- Privileges by securable kind, as the REST API spells them, and the securable type segment of
-- /permissions/{type}/{name}: both owned by the kinds (replicate/kinds/).
M.valid, M.securable_type = {}, {}
for kind in kinds.each() do
  M.valid[kind.name] = util.set(kind.privileges)
  M.securable_type[kind.name] = kind.securable
end

-- "USE CATALOG" (information_schema / SHOW GRANTS spelling) -> "USE_CATALOG".
function M.normalize_privilege(p)
  if type(p) == "table" then p = p.privilege end
  return (tostring(p):upper():gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s+", "_"))
end

local function is_uuid(s)
  return s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

-- Map a primary principal to the secondary's. cfg = { map = {src = dst | false},
-- unmapped = "keep_names" (default: names pass, UUID-shaped application ids need an entry) |
-- "keep" (everything passes) | "skip" (everything needs an entry) }.
-- Returns the mapped principal, or nil and a reason ("unmapped" / "dropped by mapping").
function M.map_principal(principal, cfg)
  cfg = cfg or {}
  local map = cfg.map or {}
  local m = map[principal]
  if m == false then return nil, "dropped by mapping" end
  if m ~= nil then return m end
  local mode = cfg.unmapped or "keep_names"
  if mode == "keep" then return principal end
  if mode == "keep_names" and not is_uuid(principal) then return principal end
  return nil, "unmapped"
end

-- Normalise a privilege_assignments list ({principal=, privileges={..}}) to principal -> set.
function M.to_map(assignments)
  local out = {}
  for _, a in ipairs(assignments or {}) do
    local s = out[a.principal] or {}
    for _, p in ipairs(a.privileges or {}) do s[M.normalize_privilege(p)] = true end
    out[a.principal] = s
  end
  return out
end

-- Desired grants on the secondary for a securable of `kind`, from the primary's direct grants
-- (principal -> set). Returns desired (principal -> set) and notes { unmapped = {principal...},
-- invalid = { {principal=, privilege=} ... } }.
function M.desired(source, kind, principal_cfg)
  local valid = M.valid[kind]
  if not valid then
    errors.raise{ code = "INVALID_SECURABLE", message = "grants: unknown securable kind '" .. tostring(kind) .. "'" }
  end
  local desired, notes = {}, { unmapped = {}, invalid = {}, dropped = {} }
  for _, principal in ipairs(util.sorted_keys(source)) do
    local target, why = M.map_principal(principal, principal_cfg)
    if not target then
      if why == "unmapped" then table.insert(notes.unmapped, principal)
      else table.insert(notes.dropped, principal) end
    else
      for _, priv in ipairs(util.sorted_keys(source[principal])) do
        if valid[priv] then
          desired[target] = desired[target] or {}
          desired[target][priv] = true
        else
          table.insert(notes.invalid, { principal = principal, privilege = priv })
        end
      end
    end
  end
  return desired, notes
end

-- Changes that turn `current` (principal -> set) into `desired`, never removing anything from a
-- protected principal. A list of { principal=, add={..}, remove={..} } sorted by principal, each
-- list sorted; principals without a change are left out. Also the shape the UC permissions API
-- PATCH takes as `changes`.
function M.diff(desired, current, protected)
  local prot = {}
  for _, p in ipairs(protected or {}) do prot[p] = true end
  local principals = {}
  for p in pairs(desired) do principals[p] = true end
  for p in pairs(current) do principals[p] = true end
  local changes = {}
  for _, p in ipairs(util.sorted_keys(principals)) do
    local want, have = desired[p] or {}, current[p] or {}
    local add, remove = {}, {}
    for _, priv in ipairs(util.sorted_keys(want)) do if not have[priv] then add[#add + 1] = priv end end
    if not prot[p] then
      for _, priv in ipairs(util.sorted_keys(have)) do if not want[priv] then remove[#remove + 1] = priv end end
    end
    if #add > 0 or #remove > 0 then
      local c = { principal = p }
      if #add > 0 then c.add = add end
      if #remove > 0 then c.remove = remove end
      changes[#changes + 1] = c
    end
  end
  return changes
end

-- Apply changes to a principal -> set map (returns a new map). Used by the simulator-free specs
-- and by `plan` to show the end state.
function M.apply(current, changes)
  local out = {}
  for p, s in pairs(current) do out[p] = util.copy(s) end
  for _, c in ipairs(changes) do
    local s = out[c.principal] or {}
    for _, priv in ipairs(c.add or {}) do s[priv] = true end
    for _, priv in ipairs(c.remove or {}) do s[priv] = nil end
    if next(s) then out[c.principal] = s else out[c.principal] = nil end
  end
  return out
end

-- One-line text of a change list for plans: "+SELECT analysts; -MODIFY etl".
function M.describe(changes)
  local parts = {}
  for _, c in ipairs(changes) do
    if c.add then parts[#parts + 1] = "+" .. table.concat(c.add, ",") .. " " .. c.principal end
    if c.remove then parts[#parts + 1] = "-" .. table.concat(c.remove, ",") .. " " .. c.principal end
  end
  return table.concat(parts, "; ")
end

return M

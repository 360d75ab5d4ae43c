-- SQL functions: created in dr with their bodies' catalog names (and renamed objects) rewritten;
-- functions in other languages are skipped and reported.
local errors = require("errors")
local util = require("replicate.util")
local q = require("replicate.sqltext")

local K = {
  collection = "functions", sql = "FUNCTION", securable = "function", depth = 3, tags = false,
  privileges = { "ALL_PRIVILEGES", "EXECUTE", "MANAGE" },
  list = { path = "/functions", key = "functions" },
  privilege_view = { view = "routine_privileges", cols = { "routine_catalog", "routine_schema", "routine_name" } },
  phases = { ["function"] = 60 },
  prune_rank = 2,
  renames = true,
  policies = { clone = "create it from its rewritten definition", skip = "not replicated (views and policies on it fail)" },
}

function K.normalise(f)
  local val = util.val
  local params = {}
  local ip = val(f.input_params)
  for _, p in ipairs((ip and val(ip.parameters)) or {}) do
    params[#params + 1] = { name = p.name, type_text = p.type_text }
  end
  local returns = val(f.full_data_type) or val(f.data_type)
  if f.data_type == "TABLE_TYPE" then
    local rp = val(f.return_params)
    local cols = {}
    for _, p in ipairs((rp and val(rp.parameters)) or {}) do cols[#cols + 1] = q.ident(p.name) .. " " .. p.type_text end
    returns = "TABLE (" .. (#cols > 0 and table.concat(cols, ", ") or tostring(val(f.full_data_type))) .. ")"
  end
  return {
    catalog = f.catalog_name:lower(), schema = f.schema_name:lower(), name = f.name:lower(),
    full = (f.catalog_name .. "." .. f.schema_name .. "." .. f.name):lower(),
    params = params, returns = returns, body = val(f.routine_definition),
    language = (val(f.routine_body) == "SQL" or val(f.routine_body) == nil) and "SQL"
      or (val(f.external_language) or val(f.routine_body)),
    comment = val(f.comment), owner = val(f.owner), tags = {},
  }
end

local function signature(f)
  local ps = {}
  for _, p in ipairs(f.params or {}) do ps[#ps + 1] = q.ident(p.name) .. " " .. p.type_text end
  return "(" .. table.concat(ps, ", ") .. ")"
end

local function plan_one(p, f, full, tgt)
  if (f.language or "SQL"):upper() ~= "SQL" then
    p:skip(tgt, "only SQL functions are replicated (" .. tostring(f.language) .. " body)", "function")
    p.blocked[tgt] = "not replicated"
    return
  end
  local okr, body = pcall(p.rewrite, p, f.body or "")
  if not okr then return p:fail(tgt, errors.text(body), "function") end
  local d = (p.dst.functions or {})[tgt]
  local same = d and d.body == body and signature(d) == signature(f)
    and (d.returns or ""):upper() == (f.returns or ""):upper() and q.comment(d.comment) == q.comment(f.comment)
  if same then return end
  local sql = "CREATE OR REPLACE FUNCTION " .. q.name(tgt) .. signature(f) .. " RETURNS " .. f.returns
  if q.comment(f.comment) then sql = sql .. " COMMENT " .. q.literal(f.comment) end
  sql = sql .. " RETURN " .. body
  p:recreate{ phase = "function", op = d and "replace" or "create", kind = "function", object = tgt, source = full,
    reason = d and "definition differs" or "missing in dr", steps = { q.step(sql) } }
end

function K.plan(p)
  p:each_selected(K, function(f, full, tgt) plan_one(p, f, full, tgt) end)
end

return K

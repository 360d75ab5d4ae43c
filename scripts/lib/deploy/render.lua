-- Terraform-like text for plans and apply reports.
local util = require("deploy.util")

local M = {}

local SYMBOL = { create = "+", update = "~", replace = "-/+", delete = "-", adopt = "<=", forget = "-",
  noop = " ", error = "!" }
local VERB = {
  create = "will be created", update = "will be updated in-place", replace = "must be replaced",
  delete = "will be destroyed", adopt = "will be adopted into state (no API change)",
  forget = "will be removed from state only (retained)", error = "could not be read",
}

local function show(v)
  if type(v) == "string" then
    if v == "(known after apply)" or v == "(sensitive value)" then return v end
    return string.format("%q", v)
  end
  if type(v) == "table" then
    local s = util.canonical(v)
    if #s > 80 then s = s:sub(1, 77) .. "..." end
    return s
  end
  if v == nil then return "null" end
  return tostring(v)
end

local function flatten(v, prefix, out)
  out = out or {}
  if type(v) == "table" and next(v) ~= nil and not (util.is_array(v) and type(v[1]) ~= "table") then
    for _, k in ipairs(util.sorted_keys(v)) do
      local p
      if type(k) == "number" then p = prefix .. "[" .. k .. "]"
      else p = prefix == "" and k or (prefix .. "." .. k) end
      flatten(v[k], p, out)
    end
  else
    out[#out + 1] = { prefix, v }
  end
  return out
end

M.MAX_LINES = 14

-- Properties that matter for security are shown whatever the body's length: network exposure
-- (public access, NSG rules, no-public-IP, private endpoints and links, firewall and network
-- rules, egress), encryption and keys (CMK, infrastructure encryption, Key Vault protection),
-- TLS and transport minimums, shared-key access, isolation and grants, a metastore's external data
-- access (credential vending to engines outside Databricks). Matched, case-insensitive,
-- anywhere in a property's path.
M.SECURITY = { "publicnetworkaccess", "nsg", "nopublicip", "publicip", "privateendpoint", "privatelink",
  "privatelinkservice", "firewall", "networkacls", "networkrule", "iprules", "virtualnetworkrules",
  "defaultaction", "bypass", "securityrules", "egress", "allowblobpublicaccess", "publicaccess",
  "encryption", "keysource", "keyvault", "cmk", "customermanaged", "purgeprotection", "softdelete",
  "rbacauthorization", "tls", "httpstraffic", "allowsharedkeyaccess", "isolation_mode",
  "privileges", "authentication_type", "enablenetworkisolation", "external_access" }

--- security(path) -> true when the property is one the plan always shows.
function M.security(path)
  local p = tostring(path):lower()
  for _, w in ipairs(M.SECURITY) do
    if p:find(w, 1, true) then return true end
  end
  return false
end

--- plan(p, opts) -> text. Each body shows its first MAX_LINES properties and every security-relevant
-- one (M.security); opts.verbose shows every property and the no-op resources too; opts.compact
-- one line per resource.
function M.plan(p, opts)
  opts = opts or {}
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  if p.changes == 0 and p.errors == 0 then
    add("No changes. The " .. tostring(p.env) .. " estate matches the configuration (" ..
      tostring(p.summary.noop) .. " resources up to date).")
    return table.concat(lines, "\n")
  end
  add("drhost will perform the following actions (env " .. tostring(p.env) .. "):")
  add("")
  for _, a in ipairs(p.actions) do
    if a.action ~= "noop" or opts.verbose then
      add("  # " .. a.addr .. " " .. (VERB[a.action] or a.action) .. " (" .. tostring(a.reason) .. ")")
    end
    if (a.action ~= "noop" or opts.verbose) and not opts.compact then
      add(SYMBOL[a.action] .. " " .. tostring(a.provider) .. " \"" .. tostring(a.type) .. "\" \"" .. a.addr .. "\" {")
      -- every line with --verbose; otherwise the first MAX_LINES and every security-relevant one
      local lines_of = {}
      if a.action == "create" and a.body then
        for _, kv in ipairs(flatten(a.body, "")) do
          lines_of[#lines_of + 1] = { kv[1], "      + " .. kv[1] .. " = " .. show(kv[2]) }
        end
      else
        for _, c in ipairs(a.changes or {}) do
          local text
          if c.kind == "add" then text = "      + " .. c.path .. " = " .. show(c.new)
          elseif c.kind == "remove" then text = "      - " .. c.path .. " = " .. show(c.old)
          else text = "      ~ " .. c.path .. " = " .. show(c.old) .. " -> " .. show(c.new) end
          lines_of[#lines_of + 1] = { c.path, text }
        end
      end
      local hidden = 0
      for i, l in ipairs(lines_of) do
        if opts.verbose or i <= M.MAX_LINES or M.security(l[1]) then add(l[2]) else hidden = hidden + 1 end
      end
      if hidden > 0 then add("        ... (" .. hidden .. " more; --verbose shows them)") end
      add("    }")
      add("")
    end
  end
  local s = p.summary
  add(string.format("Plan: %d to add, %d to change, %d to replace, %d to destroy, %d to adopt (%d unchanged%s).",
    s.create, s.update, s.replace, s.delete + (s.forget or 0), s.adopt, s.noop,
    (s.error or 0) > 0 and (", " .. s.error .. " could not be read") or ""))
  return table.concat(lines, "\n")
end

--- report(r) -> text summary of an apply.
function M.report(r, what)
  local lines = {}
  local counts = {}
  for _, a in ipairs(r.applied) do counts[a.action] = (counts[a.action] or 0) + 1 end
  local parts = {}
  for _, k in ipairs(util.sorted_keys(counts)) do parts[#parts + 1] = counts[k] .. " " .. k end
  lines[#lines + 1] = string.format("%s complete: %d resource(s) done (%s), %d failed, %d skipped, %ds.",
    what or "Apply", #r.applied, #parts > 0 and table.concat(parts, ", ") or "none",
    #r.failed, #r.skipped, r.elapsed or 0)
  for _, f in ipairs(r.failed) do lines[#lines + 1] = "  FAILED  " .. f.addr .. ": " .. f.error end
  for _, s in ipairs(r.skipped) do lines[#lines + 1] = "  SKIPPED " .. s.addr .. ": " .. s.reason end
  return table.concat(lines, "\n")
end

return M

-- Driver registry: provider + type -> driver (read/create/update/delete/id/view).
local err = require("errors")

local M = {}
local custom = {}

--- register(provider, type, driver): add or override a driver (tests use fakes).
function M.register(provider, rtype, driver)
  custom[provider .. ":" .. rtype] = driver
end

function M.reset() custom = {} end

function M.get(provider, rtype)
  local d = custom[provider .. ":" .. tostring(rtype)] or custom[provider .. ":*"]
  if d then return d end
  if provider == "arm" or provider == "arm_patch" or provider == "arm_approve" then
    return require("deploy.drivers.arm")[provider]
  end
  if provider == "account" or provider == "workspace" then
    local d2 = require("deploy.drivers.databricks")[rtype]
    if type(d2) == "table" and d2.read then return d2 end
    err.raise("UNKNOWN_KIND", "no driver for " .. provider .. " kind '" .. tostring(rtype) .. "'")
  end
  err.raise("UNKNOWN_KIND", "no driver for provider '" .. tostring(provider) .. "'")
end

return M

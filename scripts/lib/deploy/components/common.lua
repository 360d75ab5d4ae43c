-- Shared pieces of the estate: api-versions, names, tags, role assignments, private endpoints.
local lazy = require("deploy.lazy")
local util = require("deploy.util")

local M = {}

-- One place for every ARM api-version the estate uses.
M.API = {
  resources = "2025-04-01",
  network = "2026-03-01",
  privatedns = "2024-06-01",
  keyvault = "2026-05-15",
  storage = "2026-09-01",
  databricks = "2026-01-01",
  authorization = "2022-04-01",
}

-- Built-in role definitions (the same GUIDs in every tenant; documented by Azure RBAC).
M.ROLES = {
  crypto_service_encryption_user = "e147488a-f6f5-4113-8e2d-b22465e65bf6",
  storage_blob_data_contributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  key_vault_secrets_user = "4633458b-17de-408a-b874-0445c86b69e6",
}

M.DNS = {
  databricks = "privatelink.azuredatabricks.net",
  dfs = "privatelink.dfs.core.windows.net",
  blob = "privatelink.blob.core.windows.net",
  vault = "privatelink.vaultcore.azure.net",
}

-- Service tag suffixes (Storage.WestEurope) for the regions we know; others use the ARM name.
local TAG_REGION = {
  westeurope = "WestEurope", northeurope = "NorthEurope", eastus = "EastUS", eastus2 = "EastUS2",
  westus = "WestUS", westus2 = "WestUS2", westus3 = "WestUS3", centralus = "CentralUS",
  uksouth = "UKSouth", ukwest = "UKWest", francecentral = "FranceCentral",
  germanywestcentral = "GermanyWestCentral", swedencentral = "SwedenCentral",
  switzerlandnorth = "SwitzerlandNorth", southeastasia = "SoutheastAsia", eastasia = "EastAsia",
  australiaeast = "AustraliaEast", canadacentral = "CanadaCentral", japaneast = "JapanEast",
}
function M.tag_region(region) return TAG_REGION[region] or region end

function M.getenv(ctx, name)
  local get = ctx.getenv or os.getenv
  return get(name)
end

function M.require_env(ctx, name, what)
  local v = M.getenv(ctx, name)
  if (v == nil or v == "") and ctx.offline then return "${" .. name .. "}" end  -- `validate`: no cloud
  if v == nil or v == "" then
    require("errors").raise("ENV_VARIABLE_MISSING", "environment variable " .. name .. " is not set (" .. what .. ")")
  end
  return v
end

function M.tags(env, extra)
  local t = util.deepcopy(env.tags or {})
  for k, v in pairs(extra or {}) do t[k] = v end
  t["drhost-env"] = env.name
  return t
end

function M.name(env, ...)
  local parts = { env.prefix, env.name }
  for _, p in ipairs({ ... }) do parts[#parts + 1] = p end
  return table.concat(parts, "-")
end

-- storage account names: 3-24 lower-case letters/digits, globally unique
function M.storage_name(env, spoke, suffix)
  return (env.prefix .. env.name .. spoke .. suffix):sub(1, 24)
end

function M.arr(t) return require("json").array(t) end

-- A GUID derived from its inputs (role assignment names must be GUIDs and stable across runs).
function M.guid(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring(select(i, ...)):lower() end
  local h = util.hash(table.concat(parts, "|"))
  while #h < 32 do h = h .. util.hash(h) end
  return string.format("%s-%s-4%s-8%s-%s", h:sub(1, 8), h:sub(9, 12), h:sub(14, 16), h:sub(18, 20), h:sub(21, 32))
end

--- role_assignment(s, addr, scope_res, role_key, principal, opts): Microsoft.Authorization role
-- assignment at the scope of an ARM resource. principal may be a plain id or a lazy value.
function M.role_assignment(s, addr, scope_res, role_key, principal, opts)
  opts = opts or {}
  local role_guid = M.ROLES[role_key]
  local name = lazy.fn(function(scope, p) return M.guid(scope, role_guid, p) end, lazy.ref(scope_res, "id"), principal)
  local id = lazy.fn(function(scope, n) return scope .. "/providers/Microsoft.Authorization/roleAssignments/" .. n end,
    lazy.ref(scope_res, "id"), name)
  return s:arm{
    addr = addr, type = "Microsoft.Authorization/roleAssignments", api_version = M.API.authorization, id = id,
    body = { properties = {
      roleDefinitionId = "/subscriptions/" .. s.subscription_id ..
        "/providers/Microsoft.Authorization/roleDefinitions/" .. role_guid,
      principalId = principal, principalType = opts.principal_type or "ServicePrincipal" } },
    create_only = { "properties.roleDefinitionId", "properties.principalId" },
    depends_on = opts.depends_on,
  }
end

--- private_endpoint(s, addr, o): a private endpoint + its DNS zone group.
-- o: rg, name, location, subnet_id (lazy), target_id (lazy), group, zone (resource), tags, depends_on
function M.private_endpoint(s, addr, o)
  local pe = s:arm{
    addr = addr, type = "Microsoft.Network/privateEndpoints", api_version = M.API.network,
    resource_group = o.rg, name = o.name,
    body = { location = o.location, tags = o.tags, properties = {
      subnet = { id = o.subnet_id },
      privateLinkServiceConnections = { { name = o.name, properties = {
        privateLinkServiceId = o.target_id, groupIds = { o.group } } } },
    } },
    depends_on = o.depends_on,
  }
  local zg = s:arm{
    addr = addr .. "_dns", type = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    api_version = M.API.network, resource_group = o.rg, name = o.name .. "/default",
    body = { properties = { privateDnsZoneConfigs = { { name = o.group, properties = {
      privateDnsZoneId = lazy.ref(o.zone, "id") } } } } },
    depends_on = { pe },
  }
  return pe, zg
end

--- key_parts(key_res): lazy {keyVaultUri, keyName, keyVersion} from a Key Vault key's
-- properties.keyUriWithVersion (https://<vault>.vault.azure.net/keys/<name>/<version>).
function M.key_parts(key_res)
  local uri = lazy.ref(key_res, "properties.keyUriWithVersion")
  local function part(i)
    return lazy.fn(function(u)
      local base, name, version = tostring(u):match("^(https://[^/]+)/keys/([^/]+)/([^/]+)$")
      if i == 1 then return base and (base .. "/") or u end
      if i == 2 then return name end
      return version
    end, uri)
  end
  return { uri = part(1), name = part(2), version = part(3) }
end

return M

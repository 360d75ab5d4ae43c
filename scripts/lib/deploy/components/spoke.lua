-- One spoke: VNet peered both ways with the hub, delegated host/container subnets with the NSG
-- and the hub's egress route table, private DNS links, the workspace (premium, VNet injection,
-- no public IP, NoAzureDatabricksRules, public network access off when front-end Private Link is
-- on, CMK for managed services, managed disks and DBFS), front-end/back-end/DBFS private
-- endpoints, the Key Vault roles of the disk-encryption-set and DBFS storage identities, the
-- DBFS CMK update, the access connector, the UC (ZRS) and external (GRS) storage accounts with
-- containers and private endpoints, NCC private endpoint rules approved by the deployment, and
-- the account-level bindings (NCC, metastore, serverless egress policy).
local lazy = require("deploy.lazy")
local cidr = require("deploy.cidr")
local C = require("deploy.components.common")

local ref = lazy.ref
local M = {}

--- invariant-bearing bits, exposed for specs
function M.public_network_access(env, spec)
  local fe = spec.front_end_private_link
  if fe == nil then fe = env.front_end_private_link end
  if fe == nil then fe = true end
  return fe and "Disabled" or "Enabled"
end

function M.build(s, env, hub, name, spec)
  local A = C.API
  local loc = env.region
  local sp = { name = name, env = env }
  local tags = C.tags(env, { tier = "spoke", spoke = name })
  local space = spec.cidr
  sp.subnets = {
    host = cidr.subnet(space, 2, 0),
    container = cidr.subnet(space, 2, 1),
    privatelink = cidr.subnet(space, 2, 2),
  }
  local a = "spoke." .. name .. "."
  local rg_name = "rg-" .. C.name(env, name)
  sp.rg = s:arm{ addr = a .. "rg", type = "Microsoft.Resources/resourceGroups", api_version = A.resources,
    name = rg_name, body = { location = loc, tags = tags } }
  local function arm(r)
    r.resource_group = r.resource_group or rg_name
    r.depends_on = r.depends_on or { sp.rg }
    return s:arm(r)
  end

  -- network ---------------------------------------------------------------------------------------
  sp.nsg = arm{ addr = a .. "nsg", type = "Microsoft.Network/networkSecurityGroups", api_version = A.network,
    name = "nsg-" .. C.name(env, name), body = { location = loc, tags = tags, properties = {} } }
  local function delegated(subnet_name, prefix)
    return { name = subnet_name, properties = {
      addressPrefix = prefix,
      networkSecurityGroup = { id = ref(sp.nsg, "id") },
      routeTable = { id = ref(hub.route_table, "id") },
      delegations = { { name = "databricks", properties = { serviceName = "Microsoft.Databricks/workspaces" } } },
    } }
  end
  local vnet_name = "vnet-" .. C.name(env, name)
  sp.vnet = arm{ addr = a .. "vnet", type = "Microsoft.Network/virtualNetworks", api_version = A.network,
    name = vnet_name,
    body = { location = loc, tags = tags, properties = {
      addressSpace = { addressPrefixes = { space } },
      subnets = {
        delegated("snet-host", sp.subnets.host),
        delegated("snet-container", sp.subnets.container),
        { name = "snet-privatelink", properties = { addressPrefix = sp.subnets.privatelink,
          privateEndpointNetworkPolicies = "Disabled" } },
      } } },
    preserve = { "properties.virtualNetworkPeerings" },
    create_only = { "properties.addressSpace" } }
  local pl_subnet = ref(sp.vnet, "properties.subnets[name=snet-privatelink].id")
  sp.peer_to_hub = arm{ addr = a .. "peering_to_hub", type = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
    api_version = A.network, name = vnet_name .. "/to-hub", depends_on = { sp.vnet },
    body = { properties = { remoteVirtualNetwork = { id = ref(hub.vnet, "id") },
      allowVirtualNetworkAccess = true, allowForwardedTraffic = true, allowGatewayTransit = false,
      useRemoteGateways = false } } }
  sp.peer_from_hub = s:arm{ addr = a .. "peering_from_hub",
    type = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", api_version = A.network,
    resource_group = hub.rg.name, name = hub.vnet.name .. "/to-" .. name, depends_on = { hub.vnet },
    body = { properties = { remoteVirtualNetwork = { id = ref(sp.vnet, "id") },
      allowVirtualNetworkAccess = true, allowForwardedTraffic = true, allowGatewayTransit = false,
      useRemoteGateways = false } } }
  for _, key in ipairs({ "databricks", "dfs", "blob", "vault" }) do
    local zone = hub.zones[key]
    s:arm{ addr = a .. "dns_link." .. key, type = "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
      api_version = A.privatedns, resource_group = hub.rg.name, name = zone.name .. "/link-" .. env.name .. "-" .. name,
      body = { location = "global", tags = tags, properties = {
        virtualNetwork = { id = ref(sp.vnet, "id") }, registrationEnabled = false } } }
  end

  -- workspace ----------------------------------------------------------------------------------------
  local ms_key = C.key_parts(hub.keys["managed-services"])
  local disk_key = C.key_parts(hub.keys["disks-dbfs"])
  local dbfs_account = C.storage_name(env, name, "dbfs")
  local managed_rg = "/subscriptions/" .. s.subscription_id .. "/resourceGroups/rg-" .. C.name(env, name, "managed")
  sp.workspace = arm{ addr = a .. "workspace", type = "Microsoft.Databricks/workspaces", api_version = A.databricks,
    name = "dbw-" .. C.name(env, name),
    -- the NCC and the egress policy first: on destroy the workspace goes before them (an NCC or a
    -- policy still attached to a workspace cannot be deleted)
    depends_on = { sp.rg, hub.databricks_sp_role, sp.peer_to_hub, hub.ncc, hub.network_policy },
    body = { location = loc, tags = tags, sku = { name = "premium" }, properties = {
      computeMode = "Hybrid",
      managedResourceGroupId = managed_rg,
      publicNetworkAccess = M.public_network_access(env, spec),
      requiredNsgRules = "NoAzureDatabricksRules",
      parameters = {
        customVirtualNetworkId = { value = ref(sp.vnet, "id") },
        customPublicSubnetName = { value = "snet-host" },
        customPrivateSubnetName = { value = "snet-container" },
        enableNoPublicIp = { value = true },
        prepareEncryption = { value = true },
        requireInfrastructureEncryption = { value = true },
        storageAccountName = { value = dbfs_account },
      },
      encryption = { entities = {
        managedServices = { keySource = "Microsoft.Keyvault", keyVaultProperties = {
          keyVaultUri = ms_key.uri, keyName = ms_key.name, keyVersion = ms_key.version } },
        managedDisk = { keySource = "Microsoft.Keyvault", rotationToLatestKeyVersionEnabled = true,
          keyVaultProperties = { keyVaultUri = disk_key.uri, keyName = disk_key.name, keyVersion = disk_key.version } },
      } },
    } },
    -- the DBFS key is set by the separate dbfs_cmk step below; a later workspace PUT keeps it
    preserve = { "properties.parameters.encryption" },
    create_only = { "properties.computeMode", "properties.managedResourceGroupId", "properties.parameters.requireInfrastructureEncryption",
      "properties.parameters.customVirtualNetworkId", "properties.parameters.storageAccountName" } }
  sp.workspace_id = ref(sp.workspace, "properties.workspaceId")
  sp.workspace_url = lazy.fn(function(u) return "https://" .. tostring(u):gsub("^https?://", "") end,
    ref(sp.workspace, "properties.workspaceUrl"))

  -- CMK: disk encryption set and DBFS storage identities need the crypto role, then the DBFS key
  sp.des_role = C.role_assignment(s, a .. "key_vault_role.disk_encryption_set", hub.vault,
    "crypto_service_encryption_user", ref(sp.workspace, "properties.managedDiskIdentity.principalId"))
  sp.dbfs_role = C.role_assignment(s, a .. "key_vault_role.dbfs_storage", hub.vault,
    "crypto_service_encryption_user", ref(sp.workspace, "properties.storageAccountIdentity.principalId"))
  sp.dbfs_cmk = s:add{ addr = a .. "dbfs_cmk", provider = "arm_patch", type = "Microsoft.Databricks/workspaces",
    api_version = A.databricks, target = sp.workspace, depends_on = { sp.dbfs_role, sp.des_role },
    body = { properties = { parameters = { encryption = { value = {
      keySource = "Microsoft.Keyvault", keyvaulturi = disk_key.uri, KeyName = disk_key.name,
      keyversion = disk_key.version } } } } } }

  -- private endpoints, serialised after the DBFS CMK update (both put the workspace into updating)
  sp.be_pe = C.private_endpoint(s, a .. "pe_backend", { rg = rg_name, name = "pe-" .. C.name(env, name, "be"),
    location = loc, tags = tags, subnet_id = pl_subnet, target_id = ref(sp.workspace, "id"),
    group = "databricks_ui_api", zone = hub.zones.databricks, depends_on = { sp.dbfs_cmk } })
  sp.fe_pe = C.private_endpoint(s, a .. "pe_frontend", { rg = hub.rg.name, name = "pe-" .. C.name(env, name, "fe"),
    location = loc, tags = tags, subnet_id = hub.pl_subnet_id, target_id = ref(sp.workspace, "id"),
    group = "databricks_ui_api", zone = hub.zones.databricks, depends_on = { sp.be_pe } })
  if env.dbfs_private_endpoints ~= false then
    local dbfs_id = managed_rg .. "/providers/Microsoft.Storage/storageAccounts/" .. dbfs_account
    for _, g in ipairs({ "dfs", "blob" }) do
      C.private_endpoint(s, a .. "pe_dbfs_" .. g, { rg = rg_name, name = "pe-" .. C.name(env, name, "dbfs", g),
        location = loc, tags = tags, subnet_id = pl_subnet, target_id = lazy.fn(function() return dbfs_id end, sp.workspace_id),
        group = g, zone = hub.zones[g], depends_on = { sp.dbfs_cmk } })
    end
  end

  -- Unity Catalog storage ----------------------------------------------------------------------------
  sp.access_connector = arm{ addr = a .. "access_connector", type = "Microsoft.Databricks/accessConnectors",
    api_version = A.databricks, name = "ac-" .. C.name(env, name),
    body = { location = loc, tags = tags, identity = { type = "SystemAssigned" }, properties = {} } }
  sp.storage = {}
  for _, kind in ipairs({ "uc", "ext" }) do
    local acct = C.storage_name(env, name, kind)
    local st = arm{ addr = a .. "storage_" .. kind, type = "Microsoft.Storage/storageAccounts", api_version = A.storage,
      name = acct,
      body = { location = loc, tags = tags, kind = "StorageV2",
        sku = { name = kind == "uc" and "Standard_ZRS" or "Standard_GRS" },
        properties = { isHnsEnabled = true, minimumTlsVersion = "TLS1_2", allowBlobPublicAccess = false,
          supportsHttpsTrafficOnly = true, allowSharedKeyAccess = false, publicNetworkAccess = "Disabled",
          networkAcls = { defaultAction = "Deny", bypass = "AzureServices" } } },
      create_only = { "properties.isHnsEnabled" } }
    local container = kind == "uc" and "unity" or "data"
    -- the blob service: soft delete for blobs and containers (also the containers' parent)
    local svc = arm{ addr = a .. "blob_service_" .. kind, type = "Microsoft.Storage/storageAccounts/blobServices",
      api_version = A.storage, name = acct .. "/default", depends_on = { st },
      body = { properties = {
        deleteRetentionPolicy = { enabled = true, days = 7 },
        containerDeleteRetentionPolicy = { enabled = true, days = 7 } } } }
    local cont = arm{ addr = a .. "container_" .. kind, type = "Microsoft.Storage/storageAccounts/blobServices/containers",
      api_version = A.storage, name = acct .. "/default/" .. container, depends_on = { svc },
      body = { properties = { publicAccess = "None" } } }
    local role = C.role_assignment(s, a .. "storage_role_" .. kind, st, "storage_blob_data_contributor",
      ref(sp.access_connector, "identity.principalId"))
    local pe = C.private_endpoint(s, a .. "pe_storage_" .. kind, { rg = rg_name, name = "pe-" .. acct .. "-dfs",
      location = loc, tags = tags, subnet_id = pl_subnet, target_id = ref(st, "id"), group = "dfs", zone = hub.zones.dfs })
    -- serverless compute reaches the storage through an NCC private endpoint rule; the connection it
    -- opens on the storage account is Pending until approved, which this deployment does through ARM
    local rule = s:account{ addr = a .. "ncc_rule_" .. kind, kind = "ncc_pe_rule",
      body = { ncc_id = hub.ncc_id, resource_id = ref(st, "id"), group_id = "dfs" } }
    local approval = s:add{ addr = a .. "ncc_rule_" .. kind .. "_approval", provider = "arm_approve",
      type = "Microsoft.Storage/storageAccounts/privateEndpointConnections", api_version = A.storage,
      id = ref(st, "id"), body = { endpoint_name = ref(rule, "endpoint_name"), status = "Approved" } }
    sp.storage[kind] = { account = st, name = acct, container = cont, container_name = container, role = role,
      pe = pe, rule = rule, approval = approval,
      url = "abfss://" .. container .. "@" .. acct .. ".dfs.core.windows.net/" }
  end

  -- account level bindings ------------------------------------------------------------------------------
  sp.ncc_binding = s:account{ addr = a .. "ncc_binding", kind = "ncc_binding",
    body = { workspace_id = sp.workspace_id, network_connectivity_config_id = hub.ncc_id } }
  sp.metastore_assignment = s:account{ addr = a .. "metastore_assignment", kind = "metastore_assignment",
    body = { workspace_id = sp.workspace_id, metastore_id = hub.metastore_id } }
  sp.network_option = s:account{ addr = a .. "serverless_egress", kind = "workspace_network_option",
    body = { workspace_id = sp.workspace_id, network_policy_id = ref(hub.network_policy, "network_policy_id") } }
  return sp
end

return M

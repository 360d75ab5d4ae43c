-- The hub of one region: resource group, VNet (firewall + private link subnets), Azure Firewall
-- with policy and rule collections, the egress route table (0.0.0.0/0 -> firewall), private DNS
-- zones linked to the hub VNet, Key Vault (RBAC, purge protection) with the CMK keys, the
-- region's web-auth workspace and its browser_authentication private endpoint, and the
-- account-level objects of the region: metastore, network connectivity config, serverless
-- egress policy.
local lazy = require("deploy.lazy")
local cidr = require("deploy.cidr")
local C = require("deploy.components.common")

local ref = lazy.ref
local M = {}

function M.build(s, env, ctx)
  local A = C.API
  local loc = env.region
  local tags = C.tags(env, { tier = "hub" })
  local h = { env = env }
  local hub_cidr = env.hub.cidr
  local prefix = cidr.parse(hub_cidr).prefix
  h.subnets = {
    firewall = cidr.subnet(hub_cidr, 26 - prefix, 0),
    privatelink = cidr.subnet(hub_cidr, 26 - prefix, 1),
  }
  local rg_name = "rg-" .. C.name(env, "hub")
  h.rg = s:arm{ addr = "hub.rg", type = "Microsoft.Resources/resourceGroups", api_version = A.resources,
    name = rg_name, body = { location = loc, tags = tags } }
  local rg = rg_name
  local function arm(r)
    r.resource_group = r.resource_group or rg
    r.depends_on = r.depends_on or { h.rg }
    return s:arm(r)
  end

  h.vnet = arm{ addr = "hub.vnet", type = "Microsoft.Network/virtualNetworks", api_version = A.network,
    name = "vnet-" .. C.name(env, "hub"),
    body = { location = loc, tags = tags, properties = {
      addressSpace = { addressPrefixes = { hub_cidr } },
      subnets = {
        { name = "AzureFirewallSubnet", properties = { addressPrefix = h.subnets.firewall } },
        { name = "snet-privatelink", properties = { addressPrefix = h.subnets.privatelink,
          privateEndpointNetworkPolicies = "Disabled" } },
      } } },
    preserve = { "properties.virtualNetworkPeerings" },
    create_only = { "properties.addressSpace" },
  }
  h.pl_subnet_id = ref(h.vnet, "properties.subnets[name=snet-privatelink].id")

  -- firewall -------------------------------------------------------------------------------------
  h.pip = arm{ addr = "hub.firewall_pip", type = "Microsoft.Network/publicIPAddresses", api_version = A.network,
    name = "pip-afw-" .. C.name(env),
    body = { location = loc, tags = tags, sku = { name = "Standard", tier = "Regional" },
      properties = { publicIPAllocationMethod = "Static", publicIPAddressVersion = "IPv4" } } }
  h.policy = arm{ addr = "hub.firewall_policy", type = "Microsoft.Network/firewallPolicies", api_version = A.network,
    name = "afwp-" .. C.name(env),
    body = { location = loc, tags = tags, properties = { sku = { tier = "Standard" }, threatIntelMode = "Deny" } } }
  local sources = {}
  for _, n in ipairs(M.spoke_names(env)) do sources[#sources + 1] = env.spokes[n].cidr end
  local region_tag = C.tag_region(loc)
  local function net_rule(name, dest, ports)
    return { ruleType = "NetworkRule", name = name, ipProtocols = { "TCP" }, sourceAddresses = sources,
      destinationAddresses = { dest }, destinationPorts = ports }
  end
  h.rules = arm{ addr = "hub.firewall_rules", type = "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
    api_version = A.network, name = "afwp-" .. C.name(env) .. "/rcg-databricks",
    depends_on = { h.policy },
    body = { properties = { priority = 200, ruleCollections = {
      { ruleCollectionType = "FirewallPolicyFilterRuleCollection", name = "databricks-service-tags", priority = 200,
        action = { type = "Allow" }, rules = {
          net_rule("azure-databricks", "AzureDatabricks", { "443", "3306", "8443-8451" }),
          net_rule("storage", "Storage." .. region_tag, { "443" }),
          net_rule("sql", "Sql." .. region_tag, { "3306" }),
          net_rule("eventhub", "EventHub." .. region_tag, { "9093" }),
        } },
      { ruleCollectionType = "FirewallPolicyFilterRuleCollection", name = "allowed-fqdns", priority = 300,
        action = { type = "Allow" }, rules = {
          { ruleType = "ApplicationRule", name = "package-mirrors", sourceAddresses = sources,
            protocols = { { protocolType = "Https", port = 443 } },
            targetFqdns = env.firewall.allowed_fqdns },
        } },
    } } } }
  h.firewall = arm{ addr = "hub.firewall", type = "Microsoft.Network/azureFirewalls", api_version = A.network,
    name = "afw-" .. C.name(env), depends_on = { h.rules },
    body = { location = loc, tags = tags, properties = {
      sku = { name = "AZFW_VNet", tier = "Standard" },
      firewallPolicy = { id = ref(h.policy, "id") },
      ipConfigurations = { { name = "ipconfig", properties = {
        subnet = { id = ref(h.vnet, "properties.subnets[name=AzureFirewallSubnet].id") },
        publicIPAddress = { id = ref(h.pip, "id") } } } },
    } } }
  h.firewall_ip = ref(h.firewall, "properties.ipConfigurations[1].properties.privateIPAddress")
  h.route_table = arm{ addr = "hub.route_table", type = "Microsoft.Network/routeTables", api_version = A.network,
    name = "rt-" .. C.name(env, "egress"),
    body = { location = loc, tags = tags, properties = {
      disableBgpRoutePropagation = true,
      routes = { { name = "default-via-firewall", properties = {
        addressPrefix = "0.0.0.0/0", nextHopType = "VirtualAppliance", nextHopIpAddress = h.firewall_ip } } },
    } } }

  -- private DNS ------------------------------------------------------------------------------------
  h.zones = {}
  for _, key in ipairs({ "databricks", "dfs", "blob", "vault" }) do
    local zone = arm{ addr = "hub.dns." .. key, type = "Microsoft.Network/privateDnsZones",
      api_version = A.privatedns, name = C.DNS[key], body = { location = "global", tags = tags } }
    h.zones[key] = zone
    arm{ addr = "hub.dns." .. key .. "_link", type = "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
      api_version = A.privatedns, name = C.DNS[key] .. "/link-hub",
      body = { location = "global", tags = tags, properties = {
        virtualNetwork = { id = ref(h.vnet, "id") }, registrationEnabled = false } },
      depends_on = { zone } }
  end

  -- Key Vault + keys ---------------------------------------------------------------------------------
  local tenant = C.require_env(ctx, "AZURE_TENANT_ID", "the Entra tenant of the Key Vault")
  h.vault = arm{ addr = "hub.key_vault", type = "Microsoft.KeyVault/vaults", api_version = A.keyvault,
    name = "kv-" .. C.name(env, "cmk"),
    body = { location = loc, tags = tags, properties = {
      tenantId = tenant, sku = { family = "A", name = "premium" },
      enableRbacAuthorization = true, enablePurgeProtection = true, enableSoftDelete = true,
      softDeleteRetentionInDays = 90, publicNetworkAccess = "Disabled",
      networkAcls = { defaultAction = "Deny", bypass = "AzureServices" },
    } },
    create_only = { "properties.tenantId" } }
  h.keys = {}
  for _, k in ipairs({ "managed-services", "disks-dbfs" }) do
    h.keys[k] = arm{ addr = "hub.key." .. k, type = "Microsoft.KeyVault/vaults/keys", api_version = A.keyvault,
      name = "kv-" .. C.name(env, "cmk") .. "/cmk-" .. k, depends_on = { h.vault },
      body = { tags = tags, properties = { kty = "RSA", keySize = 2048,
        keyOps = { "wrapKey", "unwrapKey", "encrypt", "decrypt" } } },
      create_only = { "properties.kty", "properties.keySize" } }
  end
  C.private_endpoint(s, "hub.key_vault_pe", { rg = rg, name = "pe-kv-" .. C.name(env), location = loc, tags = tags,
    subnet_id = h.pl_subnet_id, target_id = ref(h.vault, "id"), group = "vault", zone = h.zones.vault })
  -- The AzureDatabricks first-party application's object id differs per tenant: from the environment.
  local adb_sp = C.require_env(ctx, env.identities.databricks_sp_object_id_env,
    "object id of the AzureDatabricks first-party service principal in this tenant")
  h.databricks_sp_object_id = adb_sp
  h.databricks_sp_role = C.role_assignment(s, "hub.key_vault_role.azure_databricks", h.vault,
    "crypto_service_encryption_user", adb_sp)

  -- web-auth workspace (one per region) + browser_authentication endpoint -------------------------
  h.webauth = arm{ addr = "hub.webauth_workspace", type = "Microsoft.Databricks/workspaces",
    api_version = A.databricks, name = "WEBAUTH_DO_NOT_DELETE_" .. loc:upper(),
    body = { location = loc, tags = C.tags(env, { tier = "hub", purpose = "private-web-auth" }),
      sku = { name = "premium" },
      properties = { computeMode = "Serverless", publicNetworkAccess = "Disabled" } },
    create_only = { "properties.computeMode" } }
  h.webauth_pe = C.private_endpoint(s, "hub.webauth_pe", { rg = rg, name = "pe-webauth-" .. loc, location = loc,
    tags = tags, subnet_id = h.pl_subnet_id, target_id = ref(h.webauth, "id"), group = "browser_authentication",
    zone = h.zones.databricks })

  -- account level: metastore, NCC, serverless egress policy -------------------------------------------
  -- the region's one metastore is retained on destroy (forgotten; the plan says so) and adopted by
  -- the next apply: it keeps its id, so the peer's recipient for it stays valid (docs/deploy.md,
  -- "Rebuilding a region")
  -- external data access on: Unity Catalog vends the replication run's read credentials for the
  -- Delta log probe only with it (docs/replication.md, "Setting it up"), on both sides (failback
  -- replicates dr -> prod); each identity still needs EXTERNAL USE SCHEMA per catalog
  -- (components/replication.lua)
  h.metastore = s:account{ addr = "hub.metastore", kind = "metastore", retain = true,
    body = { name = "metastore-" .. loc, region = loc, external_access_enabled = true } }
  h.metastore_id = ref(h.metastore, "metastore_id")
  h.ncc = s:account{ addr = "hub.ncc", kind = "ncc", body = { name = ("ncc-" .. C.name(env)):sub(1, 30), region = loc } }
  h.ncc_id = ref(h.ncc, "network_connectivity_config_id")
  local dests = {}
  for _, f in ipairs(env.firewall.allowed_fqdns) do
    dests[#dests + 1] = { destination = f, internet_destination_type = "DNS_NAME" }
  end
  h.network_policy = s:account{ addr = "hub.serverless_egress", kind = "network_policy",
    body = { network_policy_id = "np-" .. C.name(env), egress = { network_access = {
      restriction_mode = "RESTRICTED_ACCESS", allowed_internet_destinations = dests } } } }
  return h
end

function M.spoke_names(env)
  local names = {}
  for n in pairs(env.spokes) do names[#names + 1] = n end
  table.sort(names)
  return names
end

return M

-- The estate as declared (no cloud): security invariants hold by construction in the bodies the
-- deployment sends, for every spoke of the map, and the graph orders the CMK steps correctly.
package.path = "scripts/lib/?.lua;scripts/lib/?/init.lua;" .. package.path
if not pcall(require, "json") then package.preload.json = function() return require("cjson") end end

local envm = require("deploy.envfile")
local estate = require("deploy.compose")
local engine = require("deploy.engine")
local lazy = require("deploy.lazy")
local spoke_c = require("deploy.components.spoke")

local VARS = {
  AZURE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001",
  AZURE_TENANT_ID = "00000000-0000-0000-0000-000000000002",
  DRHOST_DATABRICKS_SP_OBJECT_ID = "00000000-0000-0000-0000-0000000000db",
  DRHOST_REPLICATION_SP_APP_ID = "00000000-0000-0000-0000-0000000000aa",
}
local function ctx() return { getenv = function(n) return VARS[n] end } end

local function build(name)
  local env = envm.load(name)
  local s = estate.build(env, ctx())
  return s, env
end

local function of_type(s, t)
  local out = {}
  for _, r in ipairs(s.resources) do if r.type == t and r.provider == "arm" then out[#out + 1] = r end end
  return out
end

describe("deploy estate (declared)", function()
  it("has one spoke per map entry: three workspaces from three spokes", function()
    local s, env = build("prod")
    local n = 0
    for _ in pairs(env.spokes) do n = n + 1 end
    assert.equal(3, n)
    local ws = 0
    for _, r in ipairs(of_type(s, "Microsoft.Databricks/workspaces")) do
      if r.addr:match("^spoke%.") then ws = ws + 1 end
    end
    assert.equal(n, ws)
  end)

  it("workspaces: no public access with front-end Private Link, no public IP, NoAzureDatabricksRules, CMK", function()
    local s = build("prod")
    for _, r in ipairs(of_type(s, "Microsoft.Databricks/workspaces")) do
      local p = r.body.properties
      assert.equal("Disabled", p.publicNetworkAccess, r.addr)
      if r.addr:match("^spoke%.") then
        assert.equal("NoAzureDatabricksRules", p.requiredNsgRules)
        assert.is_true(p.parameters.enableNoPublicIp.value)
        assert.is_true(p.parameters.prepareEncryption.value)
        assert.equal("Microsoft.Keyvault", p.encryption.entities.managedServices.keySource)
        assert.equal("Microsoft.Keyvault", p.encryption.entities.managedDisk.keySource)
        -- the DBFS key is never in the create body: it comes after the storage identity's role
        assert.is_nil(p.parameters.encryption)
      end
    end
  end)

  it("public network access is never inverted: Enabled only when front-end Private Link is off", function()
    assert.equal("Disabled", spoke_c.public_network_access({ front_end_private_link = true }, {}))
    assert.equal("Disabled", spoke_c.public_network_access({}, {}))
    assert.equal("Enabled", spoke_c.public_network_access({ front_end_private_link = false }, {}))
    assert.equal("Disabled", spoke_c.public_network_access({ front_end_private_link = false },
      { front_end_private_link = true }))
  end)

  it("routes 0.0.0.0/0 to the firewall's private IP, on every host and container subnet", function()
    local s = build("prod")
    local rt = s.by_addr["hub.route_table"]
    local route = rt.body.properties.routes[1]
    assert.equal("0.0.0.0/0", route.properties.addressPrefix)
    assert.equal("VirtualAppliance", route.properties.nextHopType)
    assert.equal("ref(hub.firewall, properties.ipConfigurations[1].properties.privateIPAddress)",
      tostring(route.properties.nextHopIpAddress))
    for _, r in ipairs(of_type(s, "Microsoft.Network/virtualNetworks")) do
      if r.addr:match("^spoke%.") then
        for _, sn in ipairs(r.body.properties.subnets) do
          if sn.name ~= "snet-privatelink" then
            assert.equal("ref(hub.route_table, id)", tostring(sn.properties.routeTable.id))
          end
        end
      end
    end
  end)

  it("storage: UC ZRS, external GRS, no public access; Key Vault purge protection + RBAC", function()
    local s = build("prod")
    for _, r in ipairs(of_type(s, "Microsoft.Storage/storageAccounts")) do
      if r.addr:match("storage_ext$") then assert.equal("Standard_GRS", r.body.sku.name) end
      if r.addr:match("storage_uc$") then assert.equal("Standard_ZRS", r.body.sku.name) end
      assert.equal("Disabled", r.body.properties.publicNetworkAccess)
      assert.is_false(r.body.properties.allowBlobPublicAccess)
    end
    local kv = s.by_addr["hub.key_vault"].body.properties
    assert.is_true(kv.enablePurgeProtection)
    assert.is_true(kv.enableRbacAuthorization)
  end)

  it("catalogs are ISOLATED and bound to their own workspace; an NCC rule + approval per storage", function()
    local s = build("prod")
    local catalogs, approvals, rules = 0, 0, 0
    for _, r in ipairs(s.resources) do
      if r.type == "catalog" and r.addr:match("^ws%.") then
        catalogs = catalogs + 1
        assert.equal("ISOLATED", r.body.isolation_mode)
        local b = s.by_addr[r.addr:gsub("catalog$", "catalog_binding")]
        assert.equal(r.body.name, b.body.securable_name)
      end
      if r.type == "ncc_pe_rule" then rules = rules + 1 end
      if r.provider == "arm_approve" then
        approvals = approvals + 1
        assert.equal("Approved", r.body.status)
      end
    end
    assert.equal(3, catalogs)
    -- the replication workspace (first spoke by name) can read the other catalogs, not write them
    local rb = s.by_addr["ws.ops.catalog_binding_replication"]
    assert.equal("BINDING_TYPE_READ_ONLY", rb.body.binding_type)
    assert.equal("ref(spoke.finance.workspace, properties.workspaceId)", tostring(rb.body.workspace_id))
    assert.is_nil(s.by_addr["ws.finance.catalog_binding_replication"])
    assert.equal(6, rules)
    assert.equal(rules, approvals)
  end)

  it("the AzureDatabricks SP object id comes from the environment, not the code", function()
    VARS.DRHOST_DATABRICKS_SP_OBJECT_ID = "11111111-2222-3333-4444-555555555555"
    local s = build("prod")
    VARS.DRHOST_DATABRICKS_SP_OBJECT_ID = "00000000-0000-0000-0000-0000000000db"
    assert.equal("11111111-2222-3333-4444-555555555555",
      s.by_addr["hub.key_vault_role.azure_databricks"].body.properties.principalId)
    local saved = VARS.DRHOST_DATABRICKS_SP_OBJECT_ID
    VARS.DRHOST_DATABRICKS_SP_OBJECT_ID = nil
    local ok, e = pcall(build, "prod")
    VARS.DRHOST_DATABRICKS_SP_OBJECT_ID = saved
    assert.is_false(ok)
    assert.equal("ENV_VARIABLE_MISSING", e.code)
    assert.matches("DRHOST_DATABRICKS_SP_OBJECT_ID", e.message)
  end)

  it("orders CMK steps: roles before DBFS key, DBFS key before the workspace's private endpoints", function()
    local s = build("prod")
    local g = engine.graph(s.resources)
    local pos = {}
    for i, r in ipairs(g:order()) do pos[r.addr] = i end
    for _, n in ipairs({ "sales", "finance", "ops" }) do
      local a = "spoke." .. n .. "."
      -- real dependencies (not an accident of declaration order)
      local needs = g:closure({ s.by_addr[a .. "dbfs_cmk"] })
      assert.is_true(needs[s.by_addr[a .. "key_vault_role.dbfs_storage"]] == true)
      assert.is_true(needs[s.by_addr[a .. "key_vault_role.disk_encryption_set"]] == true)
      local pe_needs = g:closure({ s.by_addr[a .. "pe_backend"] })
      assert.is_true(pe_needs[s.by_addr[a .. "dbfs_cmk"]] == true)
      assert.is_true(g:closure({ s.by_addr[a .. "workspace"] })[s.by_addr["hub.key_vault_role.azure_databricks"]])
      assert.is_true(pos["hub.key_vault_role.azure_databricks"] < pos[a .. "workspace"])
      assert.is_true(pos[a .. "workspace"] < pos[a .. "key_vault_role.dbfs_storage"])
      assert.is_true(pos[a .. "key_vault_role.dbfs_storage"] < pos[a .. "dbfs_cmk"])
      assert.is_true(pos[a .. "dbfs_cmk"] < pos[a .. "pe_backend"])
      assert.is_true(pos[a .. "pe_backend"] < pos[a .. "pe_frontend"])
    end
  end)

  it("one web-auth workspace and browser_authentication endpoint per region", function()
    local s = build("prod")
    local n = 0
    for _, r in ipairs(of_type(s, "Microsoft.Network/privateEndpoints")) do
      local c = r.body.properties.privateLinkServiceConnections[1].properties
      if c.groupIds[1] == "browser_authentication" then n = n + 1 end
    end
    assert.equal(1, n)
  end)

  it("the replication job, warehouse and provider catalog exist only in dr; the recipient only in prod", function()
    local prod = build("prod")
    local dr = build("dr")
    assert.is_nil(prod.by_addr["replication.job"])
    assert.is_not_nil(prod.by_addr["replication.recipient"])
    assert.is_not_nil(dr.by_addr["replication.job"])
    assert.is_nil(dr.by_addr["replication.recipient"])
    assert.is_not_nil(dr.by_addr["replication.provider_catalog"])
    local rec = prod.by_addr["replication.recipient"].body
    assert.equal("DATABRICKS", rec.authentication_type)
    -- the recipient names dr's metastore by its global id (resolved from the account's metastore)
    local gid = lazy.resolve(rec.data_recipient_global_metastore_id, function(res)
      if res.addr == "replication.peer_metastore" then return { metastore_id = "m-1" } end
    end)
    assert.equal("azure:northeurope:m-1", gid)
  end)

  it("dr: the replication credential is in the hub's Key Vault, read through a Key Vault-backed scope", function()
    local dr = build("dr")
    local prod = build("prod")
    assert.is_nil(prod.by_addr["replication.secret_scope"])
    assert.is_nil(prod.by_addr["replication.key_vault_secret.azure-client-secret"])
    local vault = dr.by_addr["hub.key_vault"]
    local scope = dr.by_addr["replication.secret_scope"]
    assert.equal("AZURE_KEYVAULT", scope.body.scope_backend_type)
    local kv = lazy.resolve(scope.body.backend_azure_keyvault, function(res)
      if res == vault then return { id = vault.id, properties = { vaultUri = "https://" .. vault.name .. ".vault.azure.net/" } } end
    end)
    assert.same({ resource_id = vault.id, dns_name = "https://" .. vault.name .. ".vault.azure.net/" }, kv)
    -- a scope cannot be updated: another backend or vault replaces it
    assert.same({ "scope_backend_type", "backend_azure_keyvault" }, scope.create_only)
    -- three vault secrets; the ids written, the client secret only a placeholder, sent once
    local keys = {}
    for _, r in ipairs(dr.resources) do
      if r.type == "Microsoft.KeyVault/vaults/secrets" then
        keys[#keys + 1] = r.id:match("/secrets/([^/]+)$")
        assert.equal(vault.id .. "/secrets/" .. keys[#keys], r.id)
      end
    end
    table.sort(keys)
    assert.same({ "azure-client-id", "azure-client-secret", "azure-tenant-id" }, keys)
    local cred = dr.by_addr["replication.key_vault_secret.azure-client-secret"]
    assert.equal(require("deploy.components.replication").PLACEHOLDER, cred.body.properties.value)
    assert.matches("placeholder", cred.body.properties.value)
    assert.same({ "properties.value" }, cred.write_once)
    assert.is_true(cred.retain)
    assert.equal(VARS.DRHOST_REPLICATION_SP_APP_ID,
      dr.by_addr["replication.key_vault_secret.azure-client-id"].body.properties.value)
    -- nothing the deployment writes comes from a client-secret variable any more
    for _, r in ipairs(dr.resources) do assert.is_not.equal("secret", r.type) end
    -- the AzureDatabricks application may read the vault's secrets ("Key Vault Secrets User")
    local role = dr.by_addr["replication.key_vault_role.azure_databricks_secrets"]
    assert.matches("/roleDefinitions/4633458b%-17de%-408a%-b874%-0445c86b69e6$", role.body.properties.roleDefinitionId)
    assert.equal(VARS.DRHOST_DATABRICKS_SP_OBJECT_ID, role.body.properties.principalId)
    -- the scope waits for the role; the job for the scope and the vault secrets
    local g = engine.graph(dr.resources)
    local function dep(a, b)
      for _, x in ipairs(g.deps[dr.by_addr[a]] or {}) do if x.addr == b then return true end end
      return false
    end
    assert.is_true(dep("replication.secret_scope", "replication.key_vault_role.azure_databricks_secrets"))
    assert.is_true(dep("replication.job", "replication.secret_scope"))
    assert.is_true(dep("replication.job", "replication.key_vault_secret.azure-client-secret"))
  end)

  it("dr: the replication job reads its credential from the scope by reference, never by value", function()
    local dr = build("dr")
    local body = lazy.resolve(dr.by_addr["replication.job"].body, function() return {} end)
    local ev = body.job_clusters[1].new_cluster.spark_env_vars
    assert.equal("{{secrets/drhost/azure-client-secret}}", ev.AZURE_CLIENT_SECRET)
    assert.equal("{{secrets/drhost/azure-client-id}}", ev.AZURE_CLIENT_ID)
    assert.equal("{{secrets/drhost/azure-tenant-id}}", ev.AZURE_TENANT_ID)
    local text = require("deploy.util").canonical(body)
    assert.is_nil(text:find(VARS.DRHOST_REPLICATION_SP_APP_ID, 1, true))
  end)

  it("no client secret variable is read: a CI apply needs none", function()
    local seen = {}
    local c = { getenv = function(n) seen[n] = true; return VARS[n] end }
    estate.build(envm.load("dr"), c)
    assert.is_nil(seen.DRHOST_REPLICATION_SP_SECRET)
    assert.is_nil(seen.AZURE_CLIENT_SECRET)
  end)

  it("no two resources share an ARM id", function()
    for _, name in ipairs({ "prod", "dr" }) do
      local s = build(name)
      local seen = {}
      for _, r in ipairs(s.resources) do
        if r.provider == "arm" and type(r.id) == "string" then
          assert.is_nil(seen[r.id:lower()], r.id)
          seen[r.id:lower()] = true
        end
      end
    end
  end)
end)

describe("deploy entry point (declared)", function()
  local ZONE = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/example.com"
  it("the primary names a DNS zone: a CNAME to its replication workspace, its target left to failover", function()
    local env = envm.load("prod")
    env.entry_point = { zone_id = ZONE, record = "databricks", ttl = 30 }
    local s = estate.build(env, ctx())
    local r = s.by_addr["entry_point.cname"]
    assert.equal(ZONE .. "/CNAME/databricks", r.id)
    assert.equal(30, r.body.properties.TTL)
    assert.same({ "properties.CNAMERecord.cname" }, r.ignore)
    assert.is_nil(build("prod").by_addr["entry_point.cname"])
  end)

  it("refuses an entry point that is not a DNS zone id, or one in the secondary", function()
    local envfile = require("deploy.envfile")
    local prod, dr = envfile.load_file("env/prod.lua"), envfile.load_file("env/dr.lua")
    prod.entry_point = { zone_id = "example.com", record = "databricks" }
    local ok, e = pcall(envfile.validate, prod, "env/prod.lua", dr, "env/dr.lua")
    assert.is_false(ok)
    assert.matches("entry_point.zone_id", e.message, 1, true)
    prod.entry_point = nil
    dr.entry_point = { zone_id = ZONE, record = "databricks" }
    ok, e = pcall(envfile.validate, dr, "env/dr.lua", prod, "env/prod.lua")
    assert.is_false(ok)
    assert.matches("no entry point in the secondary", e.message, 1, true)
  end)

end)

-- credential vending for the replication run's Delta log probe (docs/replication.md, "Setting it up")
describe("deploy credential vending prerequisites (declared)", function()
  local function with_replication(name, catalogs)
    local env = envm.load(name)
    local c = ctx()
    c.replication_config = require("replicate.config").validate({ catalogs = catalogs }, "dr.replication.lua")
    return estate.build(env, c)
  end
  local function by_addr(s, a)
    for _, r in ipairs(s.resources) do if r.addr == a then return r end end
  end

  it("both regions' metastores have external data access on (credential vending needs it)", function()
    for _, name in ipairs({ "prod", "dr" }) do
      local ms = by_addr(build(name), "hub.metastore")
      assert.is_true(ms.body.external_access_enabled, name)
    end
  end)

  it("prod grants the replication identity EXTERNAL USE SCHEMA on each replicated source catalog, dr on each "
    .. "target (failback's reverse sync), through the catalog's own workspace after its binding", function()
    local cats = { sales = "sales", finance = "finance", legacy = "legacy_dr" }
    local want = { prod = { "finance", "legacy", "sales" }, dr = { "finance", "legacy_dr", "sales" } }
    for name, names in pairs(want) do
      local s = with_replication(name, cats)
      local got = {}
      for _, r in ipairs(s.resources) do
        if r.addr:match("^replication%.external_use%.") then got[#got + 1] = r.body.full_name end
      end
      table.sort(got)
      assert.same(names, got, name)
      local g = engine.graph(s.resources)
      local last = estate.last
      for _, cat in ipairs(names) do
        local r = by_addr(s, "replication.external_use." .. cat)
        assert.equal("privileges", r.type)
        assert.same({ securable_type = "catalog", full_name = cat, principal = VARS.DRHOST_REPLICATION_SP_APP_ID,
          privileges = { "EXTERNAL_USE_SCHEMA" } }, r.body)
        local deps = {}
        for _, x in ipairs(g.deps[r] or {}) do deps[x.addr] = true end
        local sp
        for _, x in ipairs(last.spokes) do if x.name == cat then sp = x end end
        if sp then                              -- a workspace catalog: through its workspace, bound read-write
          assert.equal(sp.workspace_url, r.workspace, cat)
          assert.is_true(deps["ws." .. cat .. ".catalog"] and deps["ws." .. cat .. ".catalog_binding"], name)
        else                                    -- created outside the deployment: the replication workspace
          assert.equal(last.spokes[1].workspace_url, r.workspace, cat)
          assert.is_true(deps["spoke.finance.metastore_assignment"], name)
        end
      end
    end
  end)

  it("declares no EXTERNAL USE SCHEMA without a replication config", function()
    for _, r in ipairs(build("prod").resources) do assert.is_nil(r.addr:match("^replication%.external_use"), r.addr) end
  end)
end)

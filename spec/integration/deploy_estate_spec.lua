-- The estate against the simulator: plan on empty lists everything, apply succeeds (primary then
-- secondary), a second plan is empty, and the security invariants hold on the LIVE resources.
local H = require("spec.integration.deploy_helpers")

local describe_sim = H.available() and describe or pending

describe_sim("deploy estate on the simulator", function()
  local fx, outp, outs
  local arm, acct

  setup(function()
    fx = H.fixture("it1", { regions = { "swedencentral", "norwayeast" }, base = 60, spokes = 3 })
    local c = H.clients()
    arm, acct = c.arm, c.account
  end)

  it("plans every declared resource on an empty estate (exit 2)", function()
    local rc, out = H.run(fx, fx.primary, "plan")
    assert.equal(2, rc, out)
    local n = H.declared(fx, fx.primary)
    assert.matches("Plan: " .. n .. " to add, 0 to change", out)
  end)

  it("applies the primary, then the secondary", function()
    local rc, out = H.run(fx, fx.primary, "apply")
    assert.equal(0, rc, out)
    assert.matches("0 failed, 0 skipped", out)
    -- the secondary's plan shows the Key Vault-backed scope, the placeholder and the job's references
    rc, out = H.run(fx, fx.secondary, "plan")
    assert.equal(2, rc, out)
    assert.matches('scope_backend_type%s*=%s*"AZURE_KEYVAULT"', out)
    assert.matches("replication.key_vault_role.azure_databricks_secrets will be created", out)
    assert.matches("drhost placeholder", out, 1, true)
    assert.matches("{{secrets/drhost/azure-client-secret}}", out, 1, true)
    rc, out = H.run(fx, fx.secondary, "apply")
    assert.equal(0, rc, out)
    outp = H.outputs(fx, fx.primary)
    outs = H.outputs(fx, fx.secondary)
  end)

  it("plans no change afterwards (exit 0), for both environments", function()
    for _, e in ipairs({ fx.primary, fx.secondary }) do
      local rc, out = H.run(fx, e, "plan")
      assert.equal(0, rc, out)
      assert.matches("No changes", out)
    end
  end)

  it("has three spokes from one map: three workspaces, each in its own VNet", function()
    local n = 0
    for _, w in pairs(outp.workspaces) do
      n = n + 1
      local ws = arm:get(w.arm_id, "2026-01-01")
      assert.is_not_nil(ws)
    end
    assert.equal(3, n)
  end)

  it("no workspace has public network access or public IPs; NoAzureDatabricksRules", function()
    for _, o in ipairs({ outp, outs }) do
      for _, w in pairs(o.workspaces) do
        local p = arm:get(w.arm_id, "2026-01-01").properties
        assert.equal("Disabled", p.publicNetworkAccess)
        assert.is_true(p.parameters.enableNoPublicIp.value)
        assert.equal("NoAzureDatabricksRules", p.requiredNsgRules)
      end
    end
  end)

  it("CMK on all three surfaces: managed services, managed disks and DBFS", function()
    for _, w in pairs(outp.workspaces) do
      local p = arm:get(w.arm_id, "2026-01-01").properties
      assert.equal("Microsoft.Keyvault", p.encryption.entities.managedServices.keySource)
      assert.equal("Microsoft.Keyvault", p.encryption.entities.managedDisk.keySource)
      assert.equal("Microsoft.Keyvault", p.parameters.encryption.value.keySource)
      assert.is_string(p.parameters.encryption.value.KeyName)
    end
  end)

  it("routes 0.0.0.0/0 to the firewall's private IP from every host and container subnet", function()
    local sub = os.getenv("AZURE_SUBSCRIPTION_ID")
    local rg = "/subscriptions/" .. sub .. "/resourceGroups/rg-it1-" .. fx.primary
    local fw = arm:get(rg .. "-hub/providers/Microsoft.Network/azureFirewalls/afw-it1-" .. fx.primary, "2026-03-01")
    local ip = fw.properties.ipConfigurations[1].properties.privateIPAddress
    assert.is_string(ip)
    assert.equal(ip, outp.firewall_private_ip)
    local rt = arm:get(rg .. "-hub/providers/Microsoft.Network/routeTables/rt-it1-" .. fx.primary .. "-egress",
      "2026-03-01")
    local default
    for _, r in ipairs(rt.properties.routes) do
      if r.properties.addressPrefix == "0.0.0.0/0" then default = r.properties end
    end
    assert.equal("VirtualAppliance", default.nextHopType)
    assert.equal(ip, default.nextHopIpAddress)
    for _, s in ipairs({ "a", "b", "c" }) do
      local vnet = arm:get(rg .. "-" .. s .. "/providers/Microsoft.Network/virtualNetworks/vnet-it1-" ..
        fx.primary .. "-" .. s, "2026-03-01")
      for _, sn in ipairs(vnet.properties.subnets) do
        if sn.name == "snet-host" or sn.name == "snet-container" then
          assert.equal(rt.id:lower(), sn.properties.routeTable.id:lower())
        end
      end
    end
  end)

  it("every NCC private endpoint rule is established (approved by the deployment)", function()
    local rules = acct:list("/network-connectivity-configs/" .. outp.ncc_id .. "/private-endpoint-rules", nil, "items")
    assert.equal(6, #rules)          -- UC + external storage of three spokes
    for _, r in ipairs(rules) do assert.equal("ESTABLISHED", r.connection_state) end
  end)

  it("catalogs are ISOLATED and bound to their workspace", function()
    local c = H.clients()
    for _, w in pairs(outp.workspaces) do
      local ws = c.workspace_client(w.url)
      local cat = ws:get("/api/2.1/unity-catalog/catalogs/" .. w.catalog)
      assert.equal("ISOLATED", cat.isolation_mode)
      local b = ws:get("/api/2.1/unity-catalog/bindings/catalog/" .. w.catalog)
      local bound = false
      for _, x in ipairs(b.bindings or {}) do
        if tostring(x.workspace_id) == tostring(w.workspace_id) then bound = true end
      end
      assert.is_true(bound)
      -- the replication workspace (spoke a) reads the other spokes' catalogs, read-only
      if w.catalog ~= "a" then
        local ro = false
        for _, x in ipairs(b.bindings or {}) do
          if tostring(x.workspace_id) == tostring(outp.workspaces.a.workspace_id) then
            ro = x.binding_type == "BINDING_TYPE_READ_ONLY"
          end
        end
        assert.is_true(ro)
      end
    end
  end)

  it("credential vending is possible: both metastores have external data access on, and the replication "
    .. "identity holds EXTERNAL USE SCHEMA on the replicated catalog in each region (prod's source, dr's target)", function()
    local c = H.clients()
    for _, o in ipairs({ outp, outs }) do
      local ms = acct:get("/metastores/" .. o.metastore_id).metastore_info
      assert.is_true(ms.external_access_enabled, o.env)
      local ws = c.workspace_client(o.primary_workspace_url)
      local p = ws:get("/api/2.1/unity-catalog/permissions/catalog/a")
      local held
      for _, x in ipairs(p.privilege_assignments or {}) do
        if x.principal == "00000000-0000-0000-0000-0000000000aa" then held = x.privileges end
      end
      assert.same({ "EXTERNAL_USE_SCHEMA" }, held, o.env)
    end
    -- only the replicated catalog: the config names catalog a, not prod's b
    local p = c.workspace_client(outp.primary_workspace_url):get("/api/2.1/unity-catalog/permissions/catalog/b")
    for _, x in ipairs(p.privilege_assignments or {}) do
      assert.is_not.equal("00000000-0000-0000-0000-0000000000aa", x.principal)
    end
  end)

  it("the EXTERNAL USE SCHEMA grant is additive: another privilege of the identity there stays, no plan change", function()
    local c = H.clients()
    local ws = c.workspace_client(outp.primary_workspace_url)
    ws:patch("/api/2.1/unity-catalog/permissions/catalog/a", { changes = { {
      principal = "00000000-0000-0000-0000-0000000000aa", add = { "USE_CATALOG" } } } })
    local rc, out = H.run(fx, fx.primary, "plan")
    assert.equal(0, rc, out)
    -- revoked out of band: the plan puts it back, leaving USE_CATALOG
    ws:patch("/api/2.1/unity-catalog/permissions/catalog/a", { changes = { {
      principal = "00000000-0000-0000-0000-0000000000aa", remove = { "EXTERNAL_USE_SCHEMA" } } } })
    rc, out = H.run(fx, fx.primary, "apply")
    assert.equal(0, rc, out)
    assert.matches("replication.external_use.a", out, 1, true)
    local p = ws:get("/api/2.1/unity-catalog/permissions/catalog/a")
    local held
    for _, x in ipairs(p.privilege_assignments or {}) do
      if x.principal == "00000000-0000-0000-0000-0000000000aa" then held = x.privileges end
    end
    table.sort(held)
    assert.same({ "EXTERNAL_USE_SCHEMA", "USE_CATALOG" }, held)
    ws:patch("/api/2.1/unity-catalog/permissions/catalog/a", { changes = { {
      principal = "00000000-0000-0000-0000-0000000000aa", remove = { "USE_CATALOG" } } } })
  end)

  it("external storage is GRS (UC storage ZRS); Key Vault has purge protection and RBAC", function()
    local sub = os.getenv("AZURE_SUBSCRIPTION_ID")
    for _, s in ipairs({ "a", "b", "c" }) do
      local base = "/subscriptions/" .. sub .. "/resourceGroups/rg-it1-" .. fx.primary .. "-" .. s ..
        "/providers/Microsoft.Storage/storageAccounts/it1" .. fx.primary .. s
      assert.equal("Standard_GRS", arm:get(base .. "ext", "2026-09-01").sku.name)
      assert.equal("Standard_ZRS", arm:get(base .. "uc", "2026-09-01").sku.name)
    end
    local kv = arm:get(outp.key_vault_id, "2026-05-15").properties
    assert.is_true(kv.enablePurgeProtection)
    assert.is_true(kv.enableRbacAuthorization)
  end)

  it("the replication job exists only in the secondary", function()
    local c = H.clients()
    local dr_jobs = c.workspace_client(outs.primary_workspace_url):list("/api/2.1/jobs/list", nil, "jobs")
    assert.equal(1, #dr_jobs)
    assert.equal(tostring(outs.job_id), tostring(dr_jobs[1].job_id))
    for _, w in pairs(outp.workspaces) do
      local jobs = c.workspace_client(w.url):list("/api/2.1/jobs/list", nil, "jobs")
      assert.equal(0, #jobs)
    end
  end)

  it("the recipient in the primary names the secondary's metastore by its global id", function()
    local c = H.clients()
    local rec = c.workspace_client(outp.primary_workspace_url):get("/api/2.1/unity-catalog/recipients/drhost_dr")
    assert.equal(outs.global_metastore_id, rec.data_recipient_global_metastore_id)
    assert.equal("DATABRICKS", rec.authentication_type)
  end)

  it("the replication job's credential: a Key Vault-backed scope on the hub's vault, referenced by the job", function()
    local c = H.clients()
    local ws = c.workspace_client(outs.primary_workspace_url)
    local scope
    for _, x in ipairs(ws:get("/api/2.0/secrets/scopes/list").scopes or {}) do
      if x.name == "drhost" then scope = x end
    end
    assert.is_not_nil(scope)
    assert.equal("AZURE_KEYVAULT", scope.backend_type)
    assert.equal(outs.key_vault_id:lower(), scope.keyvault_metadata.resource_id:lower())
    local kv = arm:get(outs.key_vault_id, "2026-05-15")
    assert.equal(kv.properties.vaultUri, scope.keyvault_metadata.dns_name)
    -- Databricks reads the vault (the AzureDatabricks application holds Key Vault Secrets User)
    local keys = {}
    for _, x in ipairs(ws:get("/api/2.0/secrets/list", { scope = "drhost" }).secrets or {}) do keys[#keys + 1] = x.key end
    table.sort(keys)
    assert.same({ "azure-client-id", "azure-client-secret", "azure-tenant-id" }, keys)
    -- the client secret is a placeholder until the operator sets it; ARM never returns a value
    local cred = arm:get(outs.key_vault_id .. "/secrets/azure-client-secret", "2026-05-15")
    assert.is_nil(cred.properties.value)
    local v = ws:get("/api/2.0/secrets/get", { scope = "drhost", key = "azure-client-secret" })
    assert.matches("placeholder", require("crypto").base64_decode(v.value))
    -- the job names the secrets by reference
    local job = ws:get("/api/2.1/jobs/get", { job_id = tostring(outs.job_id) })
    local ev = job.settings.job_clusters[1].new_cluster.spark_env_vars
    assert.equal("{{secrets/drhost/azure-client-secret}}", ev.AZURE_CLIENT_SECRET)
    assert.equal("{{secrets/drhost/azure-client-id}}", ev.AZURE_CLIENT_ID)
    -- a Key Vault-backed scope is read-only through the Secrets API
    local ok, e = pcall(ws.post, ws, "/api/2.0/secrets/put",
      { scope = "drhost", key = "azure-client-secret", string_value = "x" })
    assert.is_false(ok)
    assert.matches("Key Vault", tostring(e.message or e))
  end)

  it("the operator's value set out of band survives the next plan and apply (no change, never overwritten)", function()
    local c = H.clients()
    -- out of band, as docs/cicd.md says (here through ARM; `az keyvault secret set` in Azure)
    arm:put(outs.key_vault_id .. "/secrets/azure-client-secret", "2026-05-15",
      { properties = { value = "operator-set-value" } })
    local rc, out = H.run(fx, fx.secondary, "plan")
    assert.equal(0, rc, out)
    assert.matches("No changes", out)
    rc, out = H.run(fx, fx.secondary, "apply")
    assert.equal(0, rc, out)
    local ws = c.workspace_client(outs.primary_workspace_url)
    local v = ws:get("/api/2.0/secrets/get", { scope = "drhost", key = "azure-client-secret" })
    assert.equal("operator-set-value", require("crypto").base64_decode(v.value))
  end)

  it("destroy removes the scope (the vault keeps its secrets); the next apply recreates it, then no change", function()
    local c = H.clients()
    local ws = c.workspace_client(outs.primary_workspace_url)
    local function scopes()
      local n = {}
      for _, x in ipairs(ws:get("/api/2.0/secrets/scopes/list").scopes or {}) do n[x.name] = x.backend_type end
      return n
    end
    local rc, out = H.run(fx, fx.secondary, "destroy --target replication.secret_scope")
    assert.equal(0, rc, out)
    assert.is_nil(scopes().drhost)
    assert.is_not_nil(arm:get(outs.key_vault_id .. "/secrets/azure-client-secret", "2026-05-15"))
    rc, out = H.run(fx, fx.secondary, "apply")
    assert.equal(0, rc, out)
    assert.equal("AZURE_KEYVAULT", scopes().drhost)
    rc, out = H.run(fx, fx.secondary, "plan")
    assert.equal(0, rc, out)
    local v = ws:get("/api/2.0/secrets/get", { scope = "drhost", key = "azure-client-secret" })
    assert.equal("operator-set-value", require("crypto").base64_decode(v.value))
  end)

  it("an older Databricks-backed drhost scope is replaced by the Key Vault-backed one", function()
    local c = H.clients()
    local ws = c.workspace_client(outs.primary_workspace_url)
    -- the scope as deployments before the Key Vault-backed one made it
    ws:post("/api/2.0/secrets/scopes/delete", { scope = "drhost" })
    ws:post("/api/2.0/secrets/scopes/create", { scope = "drhost" })
    ws:post("/api/2.0/secrets/put", { scope = "drhost", key = "azure-client-secret", string_value = "old" })
    local rc, out = H.run(fx, fx.secondary, "plan")
    assert.equal(2, rc, out)
    assert.matches("replication.secret_scope must be replaced", out, 1, true)
    assert.matches('scope_backend_type = "DATABRICKS" -> "AZURE_KEYVAULT"', out, 1, true)
    rc, out = H.run(fx, fx.secondary, "apply")
    assert.equal(0, rc, out)
    local backend
    for _, x in ipairs(ws:get("/api/2.0/secrets/scopes/list").scopes or {}) do
      if x.name == "drhost" then backend = x.backend_type end
    end
    assert.equal("AZURE_KEYVAULT", backend)
    local v = ws:get("/api/2.0/secrets/get", { scope = "drhost", key = "azure-client-secret" })
    assert.equal("operator-set-value", require("crypto").base64_decode(v.value))
    rc, out = H.run(fx, fx.secondary, "plan")
    assert.equal(0, rc, out)
  end)

  it("destroys the secondary in reverse order (retained objects, both metastores, only forgotten), leaving an empty state", function()
    local rc, out = H.run(fx, fx.secondary, "destroy --compact")
    assert.equal(0, rc, out)
    assert.matches("0 failed, 0 skipped", out)
    -- its own metastore and the primary's are retained, and the operator's credential in the vault
    assert.matches("3 forget", out)
    assert.matches("replication.secret_scope", out)
    assert.equal(0, #H.state_doc(fx, fx.secondary))
    local ws = arm:get(outs.workspaces.a.arm_id, "2026-01-01")
    assert.is_nil(ws)
    -- both metastores are still there (a rebuilt dr adopts its own again)
    assert.is_not_nil(acct:get("/metastores/" .. outp.metastore_id))
    assert.is_not_nil(acct:get("/metastores/" .. outs.metastore_id))
  end)
end)

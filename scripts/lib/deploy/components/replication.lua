-- Replication prerequisites (Delta Sharing from the primary's metastore to the secondary's).
-- Order: prod first, then dr. Both runs declare the OTHER region's metastore as a retained
-- account object (adopted if it exists, created otherwise, never deleted by this environment), so
-- prod can create the recipient for dr's metastore in its first run:
--   primary (prod): recipient for the dr metastore (global id azure:<region>:<metastore id>) and the
--                   first share (drhost_dr_1), granted to the recipient; the replication run adds
--                   objects and further shards.
--   secondary (dr): the provider for prod's metastore (looked up), the first provider catalog
--                   mounting that share, a SQL warehouse, the replication job and its credential:
--                   secrets in the hub's Key Vault, read through a Key Vault-backed secret scope.
-- On both sides: EXTERNAL USE SCHEMA for the replication identity on each catalog the replication
-- config names on that side (sources in prod, targets in dr, read by failback's reverse sync), so
-- Unity Catalog vends it read credentials for the Delta log probe (with the metastore's external
-- data access switch, components/hub.lua; docs/replication.md, "Setting it up").
local lazy = require("deploy.lazy")
local util = require("deploy.util")
local C = require("deploy.components.common")

local ref = lazy.ref
local M = {}

-- the sharing names come from the replication config, whose loader (replicate/config.lua) is the
-- one place for their defaults
local sharing_defaults = require("replicate.config").defaults.sharing
M.DEFAULTS = { warehouse = "drhost-replication", secret_scope = "drhost", job = "drhost-replication" }
-- what the deployment writes into the vault for the client secret: never a credential
M.PLACEHOLDER = "drhost placeholder: set the replication service principal's client secret out of band (docs/cicd.md)"

--- settings(ctx): sharing names from ctx.replication_config (the validated config the CLI loaded),
-- or the config's defaults when there is none (a unit test's estate)
function M.settings(ctx)
  local out = {}
  for k, v in pairs(M.DEFAULTS) do out[k] = v end
  local sharing = (ctx.replication_config and ctx.replication_config.sharing) or sharing_defaults
  for _, k in ipairs({ "recipient", "share_prefix", "catalog_prefix" }) do out[k] = sharing[k] end
  return out
end

local function global_id(ms, region)
  return lazy.fn(function(g, id)
    if type(g) == "string" and g ~= "" then return g end
    return "azure:" .. region .. ":" .. id
  end, ref(ms, "global_metastore_id", ""), ref(ms, "metastore_id"))
end
M.global_id = global_id

--- replicated_catalogs(env, ctx) -> sorted names of this side's catalogs in the replication config:
-- the sources on the primary, the targets on the secondary; {} without a config
function M.replicated_catalogs(env, ctx)
  local rc = ctx.replication_config
  local seen, out = {}, {}
  for src, dst in pairs(rc and rc.catalogs or {}) do
    local name = env.role == "primary" and src or dst
    if not seen[name] then seen[name] = true; out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

-- EXTERNAL USE SCHEMA for the replication identity on each replicated catalog of this side: for a
-- workspace catalog of this deployment through its own workspace (bound read-write; the replication
-- workspace's binding is read-only in prod), after the catalog and that binding; for a catalog
-- created outside the deployment through the replication workspace, after its metastore
-- assignment. Additive: other privileges the identity holds there stay.
local function external_use(s, env, ctx, primary_ws, workspaces)
  local cats = M.replicated_catalogs(env, ctx)
  if #cats == 0 then return {} end
  local sp = C.require_env(ctx, env.identities.replication_sp_app_id_env,
    "application id of the replication service principal")
  local declared = {}
  for _, w in ipairs(workspaces or {}) do declared[w.catalog_name] = w end
  local out = {}
  for _, cat in ipairs(cats) do
    local w = declared[cat]
    out[cat] = s:workspace_obj{ addr = "replication.external_use." .. cat, kind = "privileges",
      workspace = w and w.workspace or primary_ws.workspace_url,
      depends_on = w and { w.catalog, w.binding } or { primary_ws.metastore_assignment },
      body = { securable_type = "catalog", full_name = cat, principal = sp, privileges = { "EXTERNAL_USE_SCHEMA" } } }
  end
  return out
end

function M.build(s, env, hub, spokes, ctx, workspaces)
  local peer = env.peer_env
  local primary_ws = spokes[1]
  local r = {}
  local cfg = M.settings(ctx)
  r.settings = cfg
  r.external_use = external_use(s, env, ctx, primary_ws, workspaces)
  r.peer_metastore = s:account{ addr = "replication.peer_metastore", kind = "metastore", retain = true,
    body = { name = "metastore-" .. peer.region, region = peer.region } }
  r.global_id = global_id(hub.metastore, env.region)
  r.peer_global_id = global_id(r.peer_metastore, peer.region)
  local ws = primary_ws.workspace_url
  -- a SQL warehouse on each side: the replication run reads prod and clones in dr through them
  r.warehouse = s:workspace_obj{ addr = "replication.warehouse", kind = "warehouse", workspace = ws,
    depends_on = { primary_ws.metastore_assignment },
    body = { name = cfg.warehouse, cluster_size = "Small", min_num_clusters = 1, max_num_clusters = 1,
      auto_stop_mins = 10, enable_serverless_compute = true, warehouse_type = "PRO" } }
  if env.role == "primary" then
    -- the Unity Catalog API updates a recipient's comment, owner, name, IP access list,
    -- properties and expiration only: another metastore (a rebuilt region's) or authentication
    -- type means a new recipient, so the plan replaces it (and re-grants the share)
    r.recipient = s:workspace_obj{ addr = "replication.recipient", kind = "recipient", workspace = ws,
      depends_on = { primary_ws.metastore_assignment },
      create_only = { "data_recipient_global_metastore_id", "authentication_type" },
      body = { name = cfg.recipient, authentication_type = "DATABRICKS",
        data_recipient_global_metastore_id = r.peer_global_id,
        comment = "drhost: the " .. peer.name .. " metastore (" .. peer.region .. ")" } }
    r.share = s:workspace_obj{ addr = "replication.share", kind = "share", workspace = ws,
      depends_on = { primary_ws.metastore_assignment },
      body = { name = cfg.share_prefix .. "_1", comment = "drhost: tables replicated to " .. peer.name } }
    r.share_grant = s:workspace_obj{ addr = "replication.share_grant", kind = "grants", workspace = ws,
      depends_on = { r.share, r.recipient },
      body = { securable_type = "share", full_name = cfg.share_prefix .. "_1", principal = cfg.recipient,
        privileges = { "SELECT" } } }
    return r
  end
  -- secondary: the recipient for the primary's metastore too, so a failback can replicate back
  -- (docs/failover.md, "Failback"); named after the primary as failover.steps.reverse_recipient
  r.reverse_recipient = s:workspace_obj{ addr = "replication.reverse_recipient", kind = "recipient", workspace = ws,
    depends_on = { primary_ws.metastore_assignment },
    create_only = { "data_recipient_global_metastore_id", "authentication_type" },
    body = { name = "drhost_" .. peer.name, authentication_type = "DATABRICKS",
      data_recipient_global_metastore_id = r.peer_global_id,
      comment = "drhost: the " .. peer.name .. " metastore (" .. peer.region .. "), for failback" } }
  r.provider = s:workspace_obj{ addr = "replication.provider", kind = "provider_lookup", workspace = ws,
    depends_on = { primary_ws.metastore_assignment },
    body = { data_provider_global_metastore_id = r.peer_global_id } }
  r.provider_catalog = s:workspace_obj{ addr = "replication.provider_catalog", kind = "catalog", workspace = ws,
    body = { name = cfg.catalog_prefix .. "_1", provider_name = ref(r.provider, "name"),
      share_name = cfg.share_prefix .. "_1", comment = "drhost: prod tables shared for cloning" } }
  -- The job's credential lives in the region's Key Vault, read by Databricks through a Key
  -- Vault-backed secret scope: never in GitHub, drhost's state or Databricks. The deployment
  -- writes the two ids (not secrets) and a placeholder for the client secret, whose real value the
  -- operator sets in the vault out of band (docs/cicd.md); write_once: the placeholder is sent
  -- with the create only, later applies never compare or overwrite the value.
  local vault_name = hub.vault.name
  local function kv_secret(key, value, tags)
    return s:arm{ addr = "replication.key_vault_secret." .. key, type = "Microsoft.KeyVault/vaults/secrets",
      api_version = C.API.keyvault, resource_group = hub.vault.resource_group, name = vault_name .. "/" .. key,
      depends_on = { hub.vault }, body = { tags = tags, properties = { value = value } } }
  end
  r.kv_secrets = {}
  for _, kv in ipairs({
    { "azure-tenant-id", C.require_env(ctx, "AZURE_TENANT_ID", "the Entra tenant of the replication service principal") },
    { "azure-client-id", C.require_env(ctx, env.identities.replication_sp_app_id_env,
      "application id of the replication service principal") },
  }) do
    -- the value is never returned by ARM: its hash in a tag makes a changed id an update
    local res = kv_secret(kv[1], kv[2], C.tags(env, { ["drhost-value-hash"] = util.hash(kv[2]) }))
    res.ignore = { "properties.value" }
    r.kv_secrets[#r.kv_secrets + 1] = res
  end
  -- no tags: a Key Vault secret's tags belong to its version, and the operator's new version has
  -- none of ours (declared tags would show as a change after every rotation)
  r.credential = kv_secret("azure-client-secret", M.PLACEHOLDER, nil)
  r.credential.write_once = { "properties.value" }
  r.credential.retain = true       -- the operator's value: destroy forgets it (the vault's destroy removes it)
  r.kv_secrets[#r.kv_secrets + 1] = r.credential
  -- Databricks reads the vault as the AzureDatabricks first-party application: on an RBAC vault
  -- it needs "Key Vault Secrets User" (the access policy the scope's creation adds is ignored there)
  r.secrets_role = C.role_assignment(s, "replication.key_vault_role.azure_databricks_secrets", hub.vault,
    "key_vault_secrets_user", hub.databricks_sp_object_id)
  r.secret_scope = s:workspace_obj{ addr = "replication.secret_scope", kind = "secret_scope", workspace = ws,
    depends_on = { primary_ws.metastore_assignment, r.secrets_role },
    create_only = { "scope_backend_type", "backend_azure_keyvault" },
    body = { scope = cfg.secret_scope, scope_backend_type = "AZURE_KEYVAULT",
      backend_azure_keyvault = { resource_id = ref(hub.vault, "id"), dns_name = ref(hub.vault, "properties.vaultUri") } } }
  local settings = M.job_settings(env, cfg, ctx, r, primary_ws)
  local deps = { r.warehouse, r.secret_scope, r.provider_catalog }
  for _, x in ipairs(r.kv_secrets) do deps[#deps + 1] = x end
  r.job = s:workspace_obj{ addr = "replication.job", kind = "job", workspace = ws, depends_on = deps, body = settings }
  return r
end

--- job_settings: from scripts/lib/replicate/job.lua (the replication part owns what the job
-- runs); prod's workspace URL and warehouse come from prod's deployment outputs (ctx.peer_outputs,
-- read from prod's state): unknown until prod is deployed, so plan shows "(known after apply)" and
-- apply refuses the job alone with a clear reason.
function M.job_settings(env, cfg, ctx, r, primary_ws)
  local po = ctx.peer_outputs or {}
  local function peer(k) local v = po[k]; if v == nil then return lazy.UNKNOWN end; return v end
  return require("replicate.job").settings{ env = env, env_name = env.name, name = cfg.job,
    secret_scope = cfg.secret_scope, source_host = peer("primary_workspace_url"),
    source_warehouse_id = peer("warehouse_id"), target_host = primary_ws.workspace_url,
    target_warehouse_id = ref(r.warehouse, "id"), notify = C.arr(env.notify or {}),
    paused = ctx.active_region == env.name }
end

return M
